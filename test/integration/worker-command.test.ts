import { BrokerProbe, exampleTopology, randomPrefix, writeDefinitionsFile } from '../support/broker';
import { runCli } from '../support/worker-process';

/** `warren worker` reads its options through resolveWorkerOptions, as app.startWorker does. */
describe('warren worker options', () => {
  const prefix = randomPrefix('worker-options');
  const topology = exampleTopology(prefix);
  const defs = writeDefinitionsFile(topology.definitions);
  let probe: BrokerProbe;

  beforeAll(async () => {
    probe = await BrokerProbe.open();
  });

  afterAll(async () => {
    await probe.cleanUp(Object.values(topology.queues), topology.exchanges);
    await probe.close();
    defs.remove();
  });

  test.each([
    [['-c', '2.5'], 'warren: --concurrency must be a whole number of at least 1 (got 2.5)'],
    [['-c', '0'], 'warren: --concurrency must be a whole number of at least 1 (got 0)'],
    [['-c', 'many'], 'warren: --concurrency must be a whole number of at least 1 (got NaN)'],
    [
      ['--prefetch-multiplier', '0', '-c', '1.5'],
      'warren: --concurrency must be a whole number of at least 1 (got 1.5); --prefetch-multiplier must be a whole number of at least 1 (got 0)',
    ],
    [['--time-limit', '0s'], 'warren: --time-limit must be a number of seconds above 0 (got 0)'],
  ])('%j exits 2 naming the flag, and declares nothing', async (flags, message) => {
    const run = await runCli(['worker', '-A', 'test/fixtures/tasks/test-tasks.js', ...flags, '--definitions', defs.file], { WARREN_TEST_PREFIX: prefix });
    expect(run.stderr).toBe(`${message} (see warren worker --help)\n`);
    expect(run.code).toBe(2);
    expect(await probe.queueExists(topology.queues.default)).toBe(false);
  });
});
