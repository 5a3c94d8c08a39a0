// Fault tests start, kill and restart worker processes against a real broker: give each a long limit.
jest.setTimeout(180_000);
