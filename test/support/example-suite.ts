import { createApp, createLogger, type App, type Logger } from '../../src';
import { BrokerProbe, exampleTopology, randomPrefix, writeDefinitionsFile } from './broker';
import { startTestWorker, type WorkerProcess } from './worker-process';

/** What a suite's definitions declare: the document, and the queues and exchanges to delete after. */
export interface SuiteTopology {
  readonly definitions: Record<string, unknown>;
  readonly queues: readonly string[];
  readonly exchanges: readonly string[];
}

export interface BrokerSuite {
  readonly prefix: string;
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

export interface ExampleSuite extends BrokerSuite {
  readonly topology: ReturnType<typeof exampleTopology>;
}

/**
 * Definitions made by `make` under a random prefix, a client app, a broker probe, and clean-up
 * of everything the suite made. Call at the top of a `describe`.
 */
export function brokerSuite(label: string, make: (prefix: string) => SuiteTopology): BrokerSuite {
  const prefix = randomPrefix(label);
  const made = make(prefix);
  const defs = writeDefinitionsFile(made.definitions);
  const apps: App[] = [];
  const workers: WorkerProcess[] = [];
  let probe: BrokerProbe | undefined;
  let client: App | undefined;

  const app = (logger: Logger = createLogger({ level: 'silent' })): App => {
    const created = createApp({ definitions: defs.file, logger });
    apps.push(created);
    return created;
  };

  beforeAll(async () => {
    probe = await BrokerProbe.open();
    client = app();
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop('SIGKILL')));
    await Promise.all(apps.map((a) => a.close()));
    await probe?.cleanUp(made.queues, made.exchanges);
    await probe?.close();
    defs.remove();
  });

  return {
    prefix,
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

/** The example routing topology (default, for_task1, for_task2) as a {@link brokerSuite}. */
export function exampleSuite(label: string): ExampleSuite {
  let topology: ReturnType<typeof exampleTopology> | undefined;
  const suite = brokerSuite(label, (prefix) => {
    topology = exampleTopology(prefix);
    return { definitions: topology.definitions, queues: Object.values(topology.queues), exchanges: topology.exchanges };
  });
  return Object.assign(suite, { topology: topology! });
}
