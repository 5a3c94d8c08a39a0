// Cluster tests start and kill broker nodes and send tens of thousands of tasks on a busy
// 2-core machine: give each a long limit.
jest.setTimeout(300_000);
