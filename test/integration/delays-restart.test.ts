import { createApp, createLogger, type App, type TaskContext } from '../../src';
import { BrokerProbe, exampleTopology, randomPrefix, waitFor, writeDefinitionsFile } from '../support/broker';
import { assertRestartsAllowed, brokerUp, rabbitmqctl } from '../support/rabbitmqctl';

/** Restarts the RabbitMQ application (not the node: no data is touched) and waits until it serves again. */
async function restartBrokerApp(): Promise<void> {
  try {
    await rabbitmqctl('stop_app');
  } finally {
    await brokerUp();
  }
}

describe('delayed tasks survive a broker restart', () => {
  // Not exampleSuite: its probe connection would not survive the restart.
  const prefix = randomPrefix('delays-restart');
  const topology = exampleTopology(prefix);
  const defs = writeDefinitionsFile(topology.definitions);
  const apps: App[] = [];
  const app = (): App => {
    const made = createApp({ definitions: defs.file, logger: createLogger({ level: 'silent' }) });
    apps.push(made);
    return made;
  };

  beforeAll(() => assertRestartsAllowed());

  afterAll(async () => {
    await Promise.all(apps.map((a) => a.close()));
    const probe = await BrokerProbe.open();
    await probe.cleanUp(Object.values(topology.queues), topology.exchanges);
    await probe.close();
    defs.remove();
  });

  test('a task with a 6 s countdown, sent before `rabbitmqctl stop_app` / `start_app`, runs after the restart at its time', async () => {
    // The sender closes before the restart: the broker alone must keep the task.
    const sender = app();
    const sent = await sender.sendTask(`${prefix}.stamp`, ['survivor'], {}, { countdown: 6, ignoreResult: true });
    const due = Date.now() + 6000;
    await sender.close();

    const restartStarted = Date.now();
    await restartBrokerApp();
    process.stdout.write(`broker app restarted in ${Date.now() - restartStarted} ms\n`);
    expect(Date.now()).toBeLessThan(due); // the restart fits inside the delay

    const ran: Array<{ id: string; at: number; eta: Date | null }> = [];
    const workerApp = app();
    workerApp.task(`${prefix}.stamp`, (ctx: TaskContext) => {
      ran.push({ id: ctx.taskId, at: Date.now(), eta: ctx.eta });
    }, { bind: true });
    await workerApp.startWorker({ queues: [topology.queues.default], concurrency: 1 });

    await waitFor('the delayed task to run after the restart', () => ran.length === 1, 15_000);
    expect(ran[0].id).toBe(sent.id);
    const late = ran[0].at - ran[0].eta!.getTime();
    process.stdout.write(`survivor: ran ${late} ms after its due time\n`);
    expect(late).toBeGreaterThanOrEqual(0);
    expect(late).toBeLessThan(1500);
  });
});
