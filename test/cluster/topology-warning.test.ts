/**
 * `warren topology apply` on a cluster warns about durable classic queues, which keep their tasks
 * on one node, and about classic delay levels, which keep the delayed tasks on one node (the local
 * broker's single node gets no warning: test/integration/cli.test.ts).
 */
import { randomPrefix } from '../support/broker';
import { clusterForTests, scratch, urlsOf } from '../support/cluster-apps';
import { runCli } from '../support/worker-process';

const cluster = clusterForTests();
const files = scratch('cluster-topology');

afterAll(() => files.remove());

const QUEUES_ADVICE =
  '  While that node is down a task sent there is returned unroutable and none is consumed; its tasks are lost with its disk.\n' +
  '  Declare task queues with type: quorum (replicated; a queue that exists keeps its type: drain it, delete it, apply again).\n';

const delayAdvice = (opening: string): string =>
  `${opening} delay levels (warren.delay.1s ... warren.delay.2097152s) are classic queues on the node that first declared them.\n` +
  '  While that node is down a task with countdown, eta or a retry backoff cannot be sent, and the delayed tasks wait there; they are lost with its disk.\n' +
  '  Set delays: { queueType: quorum } in the definitions (or WARREN_DELAY_QUEUE_TYPE=quorum) for every client and worker: new delays go through warren.delay.quorum.1s ...,\n' +
  '  the tasks already in the classic levels still arrive; delete the classic levels once `warren queues` counts none in them.\n';

test('topology apply warns when a cluster keeps tasks in durable classic queues or classic delay levels, naming those and only those', async () => {
  const prefix = randomPrefix('cluster-topology');
  const nodes = urlsOf(cluster, 1, 2, 3)
    .map((url) => url.replace(':guest@', ':***@'))
    .join(', ');
  const opening = `warren: warning: the broker is a cluster (3 running nodes: ${nodes}), and`;
  const definitions = (name: string, queues: unknown[], delays?: unknown): string =>
    files.file(`${name}.json`, { broker: { urls: urlsOf(cluster, 1, 2, 3) }, queues, defaultQueue: `${prefix}.qq`, ...(delays ? { delays } : {}) });
  const quorum = { name: `${prefix}.qq`, type: 'quorum' };
  const mixed = [quorum, { name: `${prefix}.classic` }, { name: `${prefix}.temp`, durable: false }];

  const warned = await runCli(['topology', 'apply', '--definitions', definitions('mixed', mixed)]);
  expect(warned.code).toBe(0);
  expect(warned.stdout).toContain(`queue    ${prefix}.classic`);
  expect(warned.stderr).toBe(`${opening} this durable classic queue keeps its tasks on one node: ${prefix}.classic.\n${QUEUES_ADVICE}${delayAdvice('  Also, the')}`);

  const queuesOnly = await runCli(['topology', 'apply', '--definitions', definitions('mixed-quorum-delays', mixed, { queueType: 'quorum' })]);
  expect(queuesOnly.stderr).toBe(`${opening} this durable classic queue keeps its tasks on one node: ${prefix}.classic.\n${QUEUES_ADVICE}`);

  const delaysOnly = await runCli(['topology', 'apply', '--definitions', definitions('quorum-classic-delays', [quorum])]);
  expect({ code: delaysOnly.code, stderr: delaysOnly.stderr }).toEqual({ code: 0, stderr: delayAdvice(`${opening} its`) });

  const quiet = await runCli(['topology', 'apply', '--definitions', definitions('quorum-only', [quorum], { queueType: 'quorum' })]);
  expect({ code: quiet.code, stderr: quiet.stderr }).toEqual({ code: 0, stderr: '' });
  // The environment variable says the same as the file.
  const byEnv = await runCli(['topology', 'apply', '--definitions', definitions('quorum-by-env', [quorum])], { WARREN_DELAY_QUEUE_TYPE: 'quorum' });
  expect({ code: byEnv.code, stderr: byEnv.stderr }).toEqual({ code: 0, stderr: '' });
});
