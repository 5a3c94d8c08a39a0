import { resolveDefinitions } from '../../../src/config';
import { ClosedError } from '../../../src/errors';
import { createApp, createLogger } from '../../../src';

/**
 * A broker connection whose first connect hangs until the test lets it finish, or until it is
 * closed (as a connection to an address that accepts TCP and never answers AMQP).
 */
class MockHeldConnection {
  static made: MockHeldConnection[] = [];
  readonly broker = 'amqp://guest:***@held:5672/';
  closeCalls = 0;
  private settle: { resolve: () => void; reject: (error: Error) => void } | undefined;

  constructor() {
    MockHeldConnection.made.push(this);
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.settle = { resolve, reject };
    });
  }

  /** The connect succeeds after all. */
  connect(): void {
    this.settle?.resolve();
  }

  async close(): Promise<void> {
    this.closeCalls += 1;
    this.settle?.reject(new ClosedError('the broker connection was closed before it connected'));
  }

  isConnected(): boolean {
    return false;
  }
}

jest.mock('../../../src/transport/broker-connection', () => ({
  get BrokerConnection() {
    return MockHeldConnection;
  },
}));

const definitions = resolveDefinitions([{ file: 'warren.yaml', content: { queues: [{ name: 'q' }], defaultQueue: 'q' } }]);

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('close() during the first connect', () => {
  beforeEach(() => {
    MockHeldConnection.made = [];
  });

  test('closes the connection being made at once; the call waiting on it rejects with ClosedError', async () => {
    const app = createApp({ definitions, logger: createLogger({ level: 'silent' }) });
    const sending = app.sendTask('app.add', [1, 2]).catch((error: unknown) => error);
    await tick();
    expect(MockHeldConnection.made).toHaveLength(1);

    await app.close();

    expect(MockHeldConnection.made[0].closeCalls).toBeGreaterThanOrEqual(1);
    const error = (await sending) as ClosedError;
    expect(error).toBeInstanceOf(ClosedError);
    expect(error.message).toBe('sendTask("app.add") interrupted: the app was closed meanwhile');
    expect(MockHeldConnection.made).toHaveLength(1);
  });

  test('a connect that succeeds just after close() is closed again, and nothing is built on it', async () => {
    const app = createApp({ definitions, logger: createLogger({ level: 'silent' }) });
    const declaring = app.declareTopology().catch((error: unknown) => error);
    await tick();
    const connection = MockHeldConnection.made[0];
    // The connect answers in the same turn as close() begins: start() resolves, not rejects.
    connection.close = async function (this: MockHeldConnection) {
      this.closeCalls += 1;
    };
    connection.connect();
    await app.close();

    const error = (await declaring) as ClosedError;
    expect(error).toBeInstanceOf(ClosedError);
    expect(error.message).toBe('declareTopology() interrupted: the app was closed meanwhile');
    expect(connection.closeCalls).toBe(2);
  });
});
