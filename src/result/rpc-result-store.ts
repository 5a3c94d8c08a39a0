import { BrokerUnavailableError, UnroutableError } from '../errors';
import type { Logger } from '../logging/logger';
import { encodeResultMessage, type JsonDates, type ResultMessageProperties } from '../protocol';
import type { Publisher } from '../transport';
import type { EncodedResult, ResultRecord, ResultStore, StoreOutcome } from '../worker/result-store';

interface EncodedRpcResult extends EncodedResult {
  readonly replyTo: string;
  readonly body: Buffer;
  readonly properties: ResultMessageProperties;
}

/**
 * Celery's `rpc://` backend, worker side: each state is a message published through the
 * default exchange to the caller's reply queue (`reply_to`), with the task id as correlation id.
 * A task sent without a reply queue gets no result, as with Celery.
 */
export class RpcResultStore implements ResultStore {
  readonly display = 'rpc://';

  constructor(
    private readonly publisher: Publisher,
    private readonly jsonDates: JsonDates = 'tagged',
  ) {}

  accepts(replyTo: string | null): boolean {
    return Boolean(replyTo);
  }

  encode(record: ResultRecord): EncodedRpcResult {
    const { body, properties } = encodeResultMessage({
      taskId: record.taskId,
      status: record.status,
      result: record.result,
      traceback: record.traceback,
      children: record.children,
      parentId: record.parentId,
      groupId: record.groupId,
      correlationId: record.correlationId,
      extended: { name: record.extended.name, worker: record.extended.worker, queue: record.extended.queue, retries: record.extended.retries },
      jsonDates: this.jsonDates,
    });
    return { sizeBytes: body.length, taskId: record.taskId, status: record.status, replyTo: record.replyTo ?? '', body, properties };
  }

  /** Publishes through the default exchange to the reply queue; resolves on the broker's confirm. */
  store(encoded: EncodedResult): Promise<unknown> {
    return this.publisher.publish(this.request(encoded as EncodedRpcResult));
  }

  /**
   * A reply queue that is gone is no reason to run the task again: that result is dropped with
   * a warning, as Celery does. A publish cut off by a lost connection is tried once more (the
   * publisher waits for the reconnect): the result is the same whichever copy arrives.
   */
  async recover(error: unknown, encoded: EncodedResult, log: Logger): Promise<StoreOutcome> {
    const { replyTo, status } = encoded as EncodedRpcResult;
    const dropped = (): StoreOutcome => {
      log.warn({ replyTo, status }, 'result dropped: the reply queue no longer exists');
      return 'dropped';
    };
    if (error instanceof UnroutableError) return dropped();
    if (!(error instanceof BrokerUnavailableError)) throw error;
    log.warn({ err: error.message, status }, 'the result publish was cut off; publishing it again');
    try {
      await this.publisher.publish(this.request(encoded as EncodedRpcResult));
      return 'stored';
    } catch (err) {
      if (err instanceof UnroutableError) return dropped();
      throw err;
    }
  }

  private request({ replyTo, body, properties }: EncodedRpcResult): { exchange: string; routingKey: string; body: Buffer; properties: ResultMessageProperties } {
    return { exchange: '', routingKey: replyTo, body, properties };
  }
}
