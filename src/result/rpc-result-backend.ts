import { randomUUID } from 'node:crypto';
import type { ConsumeMessage } from 'amqplib';
import type { ChannelWrapper } from 'amqp-connection-manager';
import type { Logger } from '../logging/logger';
import { decodeError, decodeResultMessage } from '../protocol';
import { replyQueueSpec } from '../topology/reply-queue';
import type { BrokerConnection } from '../transport';
import { AsyncResult, type ResultState } from './async-result';

/**
 * Celery's `rpc://` result backend, caller side: one reply queue per process, named by a UUID
 * and sent as `reply_to` with every task. Workers publish result messages to it through the
 * default exchange; this class hands each to the AsyncResult with the same task id.
 */
export class RpcResultBackend {
  readonly replyQueue: string;
  private channel: ChannelWrapper | undefined;
  private readonly waiting = new Map<string, AsyncResult>();
  private readonly logger: Logger;

  constructor(
    private readonly connection: BrokerConnection,
    logger: Logger,
    replyQueue: string = randomUUID(),
  ) {
    this.replyQueue = replyQueue;
    this.logger = logger.child({ component: 'result-backend', replyQueue });
  }

  /** Declares the reply queue and starts consuming it; both are redone after a reconnect. */
  async start(): Promise<void> {
    if (this.channel) return;
    const spec = replyQueueSpec(this.replyQueue);
    this.channel = this.connection.createChannel({
      name: 'results',
      confirm: false,
      setup: async (channel) => {
        await channel.assertQueue(spec.name, spec.options);
        await channel.consume(spec.name, (message) => message && this.onMessage(message), { noAck: true });
      },
    });
    await this.channel.waitForConnect();
  }

  /** An AsyncResult that follows the results of `taskId` from now on. */
  track<T>(taskId: string): AsyncResult<T> {
    const result = new AsyncResult<T>(taskId, decodeError);
    this.waiting.set(taskId, result as AsyncResult);
    return result;
  }

  /** Stops following `taskId` (its publish failed). */
  forget(taskId: string): void {
    this.waiting.delete(taskId);
  }

  private onMessage(message: ConsumeMessage): void {
    let decoded: ReturnType<typeof decodeResultMessage>;
    try {
      decoded = decodeResultMessage(message.content, message.properties);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'dropped a reply that is not a result message');
      return;
    }
    const result = this.waiting.get(decoded.taskId);
    if (!result) {
      this.logger.debug({ taskId: decoded.taskId, state: decoded.status }, 'result for a task this client does not follow');
      return;
    }
    result.update({
      state: decoded.status as ResultState,
      result: decoded.result,
      traceback: decoded.traceback ?? null,
      dateDone: decoded.dateDone ?? null,
      worker: decoded.worker,
      queue: decoded.queue,
    });
    if (result.ready) this.waiting.delete(decoded.taskId);
  }

  async close(): Promise<void> {
    const channel = this.channel;
    this.channel = undefined;
    if (channel) await channel.close();
  }
}
