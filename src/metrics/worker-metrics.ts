import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MetricsError } from '../errors';
import type { Logger } from '../logging/logger';
import type { Publisher, Transport } from '../transport';
import type { Worker, WorkerEvents } from '../worker';

type PromClient = typeof import('prom-client');

/** `prom-client` is an optional peer dependency: loaded when a worker serves metrics, not when warren is imported. */
function loadPromClient(): PromClient {
  try {
    return require('prom-client') as PromClient;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' && String(error).includes("'prom-client'")) {
      throw new MetricsError('worker metrics need the package "prom-client", which is not installed (npm install prom-client)', error);
    }
    throw error;
  }
}

export interface WorkerMetricsOptions {
  worker: Worker;
  transport: Transport;
  /** The publisher of the worker's results, retries and dead letters: its confirm latency. */
  publisher: Publisher;
  port: number;
  host: string;
  logger: Logger;
}

/** Seconds: from a millisecond task to a ten-minute one. */
const RUNTIME_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
/** Seconds: a broker confirm takes a millisecond, a struggling broker seconds. */
const CONFIRM_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Prometheus metrics of one worker (`GET /metrics` on `host:port`), from its events and its
 * broker connection, never from inside a message's handling: tasks received and finished by
 * task name and outcome, runtimes, tasks active and prefetched, the connection's state and
 * reconnects, the broker's confirm latency, Celery events dropped; and Node's process metrics.
 */
export class WorkerMetrics {
  private readonly unsubscribe: Array<() => void> = [];
  private readonly onEventDropped: () => void;

  private constructor(
    private readonly server: Server,
    readonly url: string,
    client: PromClient,
    registry: InstanceType<PromClient['Registry']>,
    options: WorkerMetricsOptions,
  ) {
    const { worker, transport, publisher } = options;
    const received = new client.Counter({ name: 'warren_tasks_received_total', help: 'Task messages delivered to the worker, by task name', labelNames: ['task'], registers: [registry] });
    const finished = new client.Counter({
      name: 'warren_tasks_total',
      help: 'Tasks the worker finished, by task name and outcome (succeeded, failed, retried, revoked)',
      labelNames: ['task', 'outcome'],
      registers: [registry],
    });
    const rejected = new client.Counter({
      name: 'warren_messages_rejected_total',
      help: 'Messages taken out of their queue without running (not a task, unknown task, too large, poison), by queue',
      labelNames: ['queue'],
      registers: [registry],
    });
    const runtime = new client.Histogram({ name: 'warren_task_runtime_seconds', help: 'Task run time, by task name', labelNames: ['task'], buckets: RUNTIME_BUCKETS, registers: [registry] });
    new client.Gauge({
      name: 'warren_tasks_active',
      help: 'Tasks running now',
      registers: [registry],
      collect() {
        this.set(worker.active);
      },
    });
    new client.Gauge({
      name: 'warren_tasks_prefetched',
      help: 'Deliveries in the worker\'s hands that have not started (prefetched, or held for their eta)',
      registers: [registry],
      collect() {
        this.set(worker.reservedCount);
      },
    });
    new client.Gauge({
      name: 'warren_broker_connected',
      help: '1 while the worker is connected to the broker, else 0',
      registers: [registry],
      collect() {
        this.set(transport.isConnected() ? 1 : 0);
      },
    });
    const reconnects = new client.Counter({ name: 'warren_broker_reconnects_total', help: 'Reconnections to the broker after a loss', registers: [registry] });
    const confirms = new client.Histogram({
      name: 'warren_publish_confirm_seconds',
      help: "Time from a publish (result, retry, dead letter) to the broker's confirm, or to its failure",
      labelNames: ['outcome'],
      buckets: CONFIRM_BUCKETS,
      registers: [registry],
    });
    const dropped = new client.Counter({ name: 'warren_events_dropped_total', help: 'Celery events dropped because the broker pushed back or the connection was down', registers: [registry] });
    this.onEventDropped = () => dropped.inc();

    const on = <K extends keyof WorkerEvents>(event: K, listener: (payload: WorkerEvents[K]) => void): void => {
      worker.on(event, listener);
      this.unsubscribe.push(() => worker.off(event, listener));
    };
    on('task-received', (e) => received.inc({ task: e.taskName }));
    on('task-succeeded', (e) => {
      finished.inc({ task: e.taskName, outcome: 'succeeded' });
      runtime.observe({ task: e.taskName }, e.runtimeMs / 1000);
    });
    on('task-failed', (e) => {
      finished.inc({ task: e.taskName, outcome: 'failed' });
      runtime.observe({ task: e.taskName }, e.runtimeMs / 1000);
    });
    on('task-retried', (e) => finished.inc({ task: e.taskName, outcome: 'retried' }));
    on('task-revoked', (e) => finished.inc({ task: e.taskName, outcome: 'revoked' }));
    on('message-rejected', (e) => rejected.inc({ queue: e.queue }));
    this.unsubscribe.push(transport.onConnect(() => reconnects.inc()));
    this.unsubscribe.push(publisher.observe((ms, confirmed) => confirms.observe({ outcome: confirmed ? 'confirmed' : 'failed' }, ms / 1000)));
  }

  /**
   * Starts serving. @throws MetricsError when `prom-client` is missing or the address cannot be
   * listened on.
   */
  static async start(options: WorkerMetricsOptions): Promise<WorkerMetrics> {
    const client = loadPromClient();
    const registry = new client.Registry();
    client.collectDefaultMetrics({ register: registry });
    const server = createServer((request, response) => {
      if (request.method !== 'GET' || (request.url ?? '').split('?')[0] !== '/metrics') {
        response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: metrics are at /metrics\n');
        return;
      }
      registry.metrics().then(
        (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (err: unknown) => response.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${(err as Error).message}\n`),
      );
    });
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(options.port, options.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      throw new MetricsError(`the metrics server cannot listen on ${options.host}:${options.port}: ${(err as Error).message}`, err);
    }
    server.unref();
    const { port } = server.address() as AddressInfo;
    const host = options.host.includes(':') ? `[${options.host}]` : options.host;
    const metrics = new WorkerMetrics(server, `http://${host}:${port}/metrics`, client, registry, options);
    options.logger.info({ url: metrics.url }, 'serving Prometheus metrics');
    return metrics;
  }

  /** For the worker's Celery event dispatcher. */
  eventDropped(): void {
    this.onEventDropped();
  }

  private closing: Promise<void> | undefined;

  /** Stops serving; idempotent. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      for (const off of this.unsubscribe.splice(0)) off();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    return this.closing;
  }
}
