/**
 * `warren topology apply` on a cluster warns about durable classic queues, which keep their tasks
 * on one node (the local broker's single node gets no warning: test/integration/cli.test.ts).
 */
import { randomPrefix } from '../support/broker';
import { clusterForTests, scratch, urlsOf } from '../support/cluster-apps';
import { runCli } from '../support/worker-process';

const cluster = clusterForTests();
const files = scratch('cluster-topology');

afterAll(() => files.remove());

test('topology apply warns when a cluster keeps tasks in durable classic queues, naming those and only those', async () => {
  const prefix = randomPrefix('cluster-topology');
  const definitions = (name: string, queues: unknown[]): string =>
    files.file(`${name}.json`, { broker: { urls: urlsOf(cluster, 1, 2, 3) }, queues, defaultQueue: `${prefix}.qq` });
  const quorum = { name: `${prefix}.qq`, type: 'quorum' };
  const mixed = definitions('mixed', [quorum, { name: `${prefix}.classic` }, { name: `${prefix}.temp`, durable: false }]);

  const warned = await runCli(['topology', 'apply', '--definitions', mixed]);
  expect(warned.code).toBe(0);
  expect(warned.stdout).toContain(`queue    ${prefix}.classic`);
  expect(warned.stderr).toBe(
    `warren: warning: the broker is a cluster (3 running nodes: ${urlsOf(cluster, 1, 2, 3)
      .map((url) => url.replace(':guest@', ':***@'))
      .join(', ')}), and this durable classic queue keeps its tasks on one node: ${prefix}.classic.\n` +
      '  While that node is down a task sent there is returned unroutable and none is consumed; its tasks are lost with its disk.\n' +
      '  Declare task queues with type: quorum (replicated; a queue that exists keeps its type: drain it, delete it, apply again).\n',
  );

  const quiet = await runCli(['topology', 'apply', '--definitions', definitions('quorum-only', [quorum])]);
  expect({ code: quiet.code, stderr: quiet.stderr }).toEqual({ code: 0, stderr: '' });
});
