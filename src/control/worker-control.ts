import type { ExchangeType, QueueDefinition } from '../config/types';
import type { Logger } from '../logging/logger';
import type { Topology } from '../topology';
import type { Transport } from '../transport';
import type { ResolvedWorkerOptions, Worker } from '../worker';
import { ControlClient } from './control-client';
import { ControlPanel } from './control-panel';
import { EventDispatcher } from './event-dispatcher';
import type { LamportClock } from './lamport-clock';
import { mingle } from './mingle';
import { PidboxNode } from './pidbox-node';
import { RevokedIds } from './revoked-ids';
import { StateDb } from './state-db';
import { WorkerEventReporter } from './worker-event-reporter';

export interface WorkerControlOptions {
  transport: Transport;
  clock: LamportClock;
  logger: Logger;
  options: ResolvedWorkerOptions;
  /** The registered task names, for `registered`. */
  taskNames(): string[];
  exchangeType(name: string): ExchangeType | undefined;
  /** A queue of the definitions and what it needs declared, for `add_consumer`. @throws UnknownQueueError */
  resolveQueue(name: string): { queue: QueueDefinition; topology: Topology };
  /** The `broker` section of `stats`. */
  broker(): Record<string, unknown>;
  /** The `shutdown` command: stop the worker (the app does; the `warren worker` process then exits). */
  shutdown(worker: Worker, reason: string): void;
  /** Called with each Celery event dropped (metrics). */
  onEventDropped?: (type: string) => void;
  publishTimeoutMs?: number;
}

/**
 * What makes a worker a citizen of a Celery fleet, around it and never inside its delivery
 * path: the revoked ids it honours (kept in `--statedb`, synced by mingle), the Celery events it
 * sends (heartbeats always, task events with `-E`), and the remote control it answers. Made
 * before the worker (which takes `isRevoked`), then `beforeStart(worker)`, `worker.start()`,
 * `afterStart()` (at once: the caller of `startWorker` gets its turn to listen for `ready`);
 * `close()` once the worker stopped.
 */
export class WorkerControl {
  readonly revoked = new RevokedIds();
  readonly isRevoked = (taskId: string): boolean => this.revoked.has(taskId);
  private readonly dispatcher: EventDispatcher;
  private readonly client: ControlClient;
  private reporter: WorkerEventReporter | undefined;
  private node: PidboxNode | undefined;
  private stateDb: StateDb | undefined;
  private worker: Worker | undefined;
  private readonly logger: Logger;

  constructor(private readonly control: WorkerControlOptions) {
    const { options } = control;
    this.logger = control.logger.child({ component: 'control', hostname: options.hostname });
    this.dispatcher = new EventDispatcher({
      transport: control.transport,
      source: { hostname: options.hostname, pid: process.pid },
      clock: control.clock,
      logger: this.logger,
      // Explicit groups, so disable_events can take task events away again (with Celery's -E it cannot).
      groups: options.taskEvents ? ['worker', 'task'] : ['worker'],
      // As a Python worker: task events in batches (`task.multi`), a publish per 24 events at most.
      batchGroups: ['task'],
      onDropped: control.onEventDropped,
    });
    this.client = new ControlClient({ transport: control.transport, clock: control.clock, logger: this.logger, publishTimeoutMs: control.publishTimeoutMs });
  }

  /** Events dropped so far (the broker pushed back, or the connection was down). */
  get eventsDropped(): number {
    return this.dispatcher.dropped;
  }

  /**
   * Before the worker consumes its first task: loads the state file, listens to the worker's
   * events, opens the event channel, mingles, and answers remote control. A node queue that
   * cannot be declared (another node of this name with other settings) is logged and the worker
   * runs on without remote control: observability never stops it from working.
   * @throws StateDbError when the state file cannot be read
   */
  async beforeStart(worker: Worker): Promise<void> {
    const { options, clock, transport } = this.control;
    this.worker = worker;
    if (options.stateDb) this.stateDb = await StateDb.open(options.stateDb, this.revoked, clock, this.logger);
    const reporter = new WorkerEventReporter(worker, this.dispatcher);
    this.reporter = reporter;
    reporter.attach();
    await this.dispatcher.start();
    if (options.mingle) {
      const before = this.revoked.size;
      await mingle(this.client, options.hostname, this.revoked, clock, this.logger);
      if (this.revoked.size !== before) this.stateDb?.scheduleSave();
    }
    if (!options.remoteControl) return;
    const panel = new ControlPanel({
      hostname: options.hostname,
      worker,
      revoked: this.revoked,
      clock,
      dispatcher: this.dispatcher,
      reporter,
      logger: this.logger,
      taskNames: () => this.control.taskNames(),
      exchangeType: (name) => this.control.exchangeType(name),
      resolveQueue: (name) => this.control.resolveQueue(name),
      broker: () => this.control.broker(),
      onRevoked: () => this.stateDb?.scheduleSave(),
      shutdown: (reason) => this.control.shutdown(worker, reason),
    });
    const node = new PidboxNode({ transport, hostname: options.hostname, clock, logger: this.logger, handle: (request) => panel.handle(request), publishTimeoutMs: this.control.publishTimeoutMs });
    try {
      await node.start();
      this.node = node;
    } catch (err) {
      await node.close();
      this.logger.error({ err: (err as Error).message }, 'remote control unavailable: the worker runs on, but inspect and control will not reach it');
    }
  }

  /** Once the worker consumes: `worker-online`, then a heartbeat every 2 s (unless heartbeats are off). */
  afterStart(): void {
    if (this.control.options.heartbeat) this.reporter?.goOnline();
  }

  private closing: Promise<void> | undefined;

  /** Once the worker stopped: `worker-offline` (if not sent yet), then closes channels and writes the state file. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    this.reporter?.goOffline();
    await this.node?.close();
    await this.dispatcher.close();
    await this.client.close();
    await this.stateDb?.close().catch((err: unknown) => this.logger.error({ err: (err as Error).message }, 'could not write the worker state file'));
  }
}
