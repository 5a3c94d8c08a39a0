import { createApp, createLogger, type App, type Logger } from '../../src';
import { BrokerProbe, exampleTopology, randomPrefix, writeDefinitionsFile } from './broker';
import { startTestWorker, type WorkerProcess } from './worker-process';

export interface ExampleSuite {
  readonly prefix: string;
  readonly topology: ReturnType<typeof exampleTopology>;
  readonly defs: ReturnType<typeof writeDefinitionsFile>;
  /** Looks at the broker directly. Set in beforeAll. */
  readonly probe: BrokerProbe;
  /** A client app over the suite's definitions. Set in beforeAll. */
  readonly client: App;
  /** Another app over the same definitions (for in-process workers), closed after the suite. */
  app(logger?: Logger): App;
  /** A `warren worker` process over the test tasks module, killed after the suite. */
  workerProcess(options: Omit<Parameters<typeof startTestWorker>[0], 'prefix' | 'definitions'>): WorkerProcess;
}

/**
 * The example routing topology under a random prefix, a client app, a broker probe, and
 * clean-up of everything the suite made. Call at the top of a `describe`.
 */
export function exampleSuite(label: string): ExampleSuite {
  const prefix = randomPrefix(label);
  const topology = exampleTopology(prefix);
  const defs = writeDefinitionsFile(topology.definitions);
  const apps: App[] = [];
  const workers: WorkerProcess[] = [];
  let probe: BrokerProbe | undefined;
  let client: App | undefined;

  const app = (logger: Logger = createLogger({ level: 'silent' })): App => {
    const made = createApp({ definitions: defs.file, logger });
    apps.push(made);
    return made;
  };

  beforeAll(async () => {
    probe = await BrokerProbe.open();
    client = app();
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop('SIGKILL')));
    await Promise.all(apps.map((a) => a.close()));
    await probe?.cleanUp(Object.values(topology.queues), topology.exchanges);
    await probe?.close();
    defs.remove();
  });

  return {
    prefix,
    topology,
    defs,
    get probe() {
      if (!probe) throw new Error('the probe is opened in beforeAll');
      return probe;
    },
    get client() {
      if (!client) throw new Error('the client is made in beforeAll');
      return client;
    },
    app,
    workerProcess(options) {
      const worker = startTestWorker({ prefix, definitions: defs.file, ...options });
      workers.push(worker);
      return worker;
    },
  };
}
