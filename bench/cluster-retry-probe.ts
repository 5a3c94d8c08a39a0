/**
 * `npm run bench:cluster-retry-probe`: the publisher fix proposed for the failover nacks, tried
 * with raw amqplib before it is written into warren. Same run as bench/cluster-failover.ts
 * (quorum queue `cq` led by node 1, the publisher on node 1, batches of BATCH, node 1 killed with
 * SIGKILL KILL_AFTER_MS in), but a publish that is nacked is not reported at once: the channel
 * that nacked it is retired (no new publishes; closed once its own confirms are in), the publish
 * is retried on a new channel after a short backoff (100 ms doubling to 1 s), and only when
 * PUBLISH_TIMEOUT_MS has passed is it reported as refused. A publish whose connection went
 * before its confirm is reported as such (it may or may not have reached the queue).
 *
 * Environment: TASKS [40000], BATCH [50], KILL_AFTER_MS [4000], PUBLISH_TIMEOUT_MS [10000],
 * ATTACH [0].
 */
import { connect, type ChannelModel, type ConfirmChannel } from 'amqplib';
import { RabbitCluster } from '../test/support/rabbitmq-cluster';

const TASKS = Number(process.env.TASKS ?? 40_000);
const BATCH = Number(process.env.BATCH ?? 50);
const KILL_AFTER_MS = Number(process.env.KILL_AFTER_MS ?? 4000);
const AFTER_KILL_MS = Number(process.env.AFTER_KILL_MS ?? 10_000);
const PUBLISH_TIMEOUT_MS = Number(process.env.PUBLISH_TIMEOUT_MS ?? 10_000);

type Outcome = 'ack' | 'nack' | 'closed';

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

class RetryingPublisher {
  private model: ChannelModel | undefined;
  private connecting: Promise<ChannelModel> | undefined;
  private channel: Promise<ConfirmChannel> | undefined;
  node = '';
  channelsOpened = 0;
  retired = 0;
  retries = 0;
  reconnects = 0;

  constructor(private readonly urls: readonly string[]) {}

  private connection(): Promise<ChannelModel> {
    if (this.model) return Promise.resolve(this.model);
    this.connecting ??= (async () => {
      for (;;) {
        for (const url of this.urls) {
          try {
            const model = await connect(url);
            model.on('error', () => undefined);
            model.on('close', () => {
              if (this.model === model) this.model = undefined;
              this.channel = undefined;
              this.reconnects += 1;
            });
            this.model = model;
            this.node = url;
            this.connecting = undefined;
            return model;
          } catch {
            // next URL
          }
        }
        await sleep(200);
      }
    })();
    return this.connecting;
  }

  private current(): Promise<ConfirmChannel> {
    this.channel ??= this.connection().then(async (model) => {
      const channel = await model.createConfirmChannel();
      channel.on('error', () => undefined);
      this.channelsOpened += 1;
      return channel;
    });
    return this.channel;
  }

  /** Publishes each channel still waits on; a retired channel closes when its count is 0. */
  private readonly inFlight = new Map<ConfirmChannel, number>();
  private readonly retiredChannels = new Set<ConfirmChannel>();

  /**
   * No new publishes go to this channel; it closes once the broker settled every publish it
   * already has. (Not `waitForConfirms()`: it rejects at the first nack, and closing then would
   * turn the channel's other pending publishes into "channel closed", which may or may not have
   * reached the queue, instead of the nacks they are about to get.)
   */
  private retire(channel: ConfirmChannel, from: Promise<ConfirmChannel>): void {
    if (this.channel === from) {
      this.channel = undefined;
      this.retired += 1;
    }
    this.retiredChannels.add(channel);
    this.closeIfDrained(channel);
  }

  private closeIfDrained(channel: ConfirmChannel): void {
    if (!this.retiredChannels.has(channel) || (this.inFlight.get(channel) ?? 0) > 0) return;
    this.retiredChannels.delete(channel);
    this.inFlight.delete(channel);
    void channel.close().catch(() => undefined);
  }

  async publish(body: Buffer): Promise<void> {
    const deadline = Date.now() + PUBLISH_TIMEOUT_MS;
    let backoff = 100;
    let nacks = 0;
    for (;;) {
      const pending = this.current();
      const channel = await pending;
      this.inFlight.set(channel, (this.inFlight.get(channel) ?? 0) + 1);
      const outcome = await new Promise<Outcome>((resolve) => {
        try {
          channel.publish('cx', 'cq', body, { persistent: true }, (err) => resolve(err ? (err.message === 'message nacked' ? 'nack' : 'closed') : 'ack'));
        } catch {
          resolve('closed');
        }
      });
      this.inFlight.set(channel, (this.inFlight.get(channel) ?? 1) - 1);
      this.closeIfDrained(channel);
      if (outcome === 'ack') return;
      if (outcome === 'closed') throw Object.assign(new Error(`the connection to ${this.node} went before the confirm; it may or may not have the message`), { code: 'UNAVAILABLE' });
      nacks += 1;
      this.retire(channel, pending);
      if (Date.now() + backoff > deadline) {
        throw Object.assign(new Error(`${this.node} nacked the message ${nacks} times over ${PUBLISH_TIMEOUT_MS} ms`), { code: 'REJECTED' });
      }
      this.retries += 1;
      await sleep(backoff);
      backoff = Math.min(backoff * 2, 1000);
    }
  }

  async close(): Promise<void> {
    await this.model?.close().catch(() => undefined);
  }
}

async function main(): Promise<void> {
  const cluster = await RabbitCluster.forScript(console.log);
  const publisher = new RetryingPublisher(cluster.urls);
  try {
    console.log(`cq leader: ${await cluster.declareQuorumQueue('cq', { exchange: 'cx', leaderOn: 1 })}`);

    let confirmed = 0;
    const failed = new Map<string, number>();
    let killedAt: number | undefined;
    let killing: Promise<void> | undefined;
    let firstConfirmAfterKill: number | undefined;
    let lastFailure: number | undefined;
    const began = Date.now();
    // At least TASKS, and on until AFTER_KILL_MS after the kill: a fast broker must not finish first.
    let sent = 0;
    for (; sent < TASKS || killedAt === undefined || Date.now() - killedAt < AFTER_KILL_MS; sent += BATCH) {
      if (!killing && Date.now() - began >= KILL_AFTER_MS) {
        killedAt = Date.now();
        killing = cluster.kill(1);
      }
      const outcomes = await Promise.allSettled(Array.from({ length: BATCH }, (_, k) => publisher.publish(Buffer.from(`task ${sent + k}`))));
      for (const outcome of outcomes) {
        if (outcome.status === 'fulfilled') {
          confirmed += 1;
          if (killedAt !== undefined) firstConfirmAfterKill ??= Date.now() - killedAt;
        } else {
          const { code, message } = outcome.reason as { code: string; message: string };
          failed.set(`${code}: ${message}`, (failed.get(`${code}: ${message}`) ?? 0) + 1);
          if (killedAt !== undefined) lastFailure = Date.now() - killedAt;
        }
      }
    }
    await killing;
    console.log(`sent ${sent}: confirmed ${confirmed}, failed ${[...failed.values()].reduce((a, b) => a + b, 0)}`);
    for (const [message, n] of failed) console.log(`  ${n} x ${message}`);
    console.log(
      `retries ${publisher.retries}, channels opened ${publisher.channelsOpened}, retired after a nack ${publisher.retired}, ` +
        `connection losses ${publisher.reconnects}; first confirm ${firstConfirmAfterKill} ms after the kill; ` +
        `last failure ${lastFailure === undefined ? 'none' : `${lastFailure} ms after the kill`}`,
    );
  } finally {
    await publisher.close();
    await cluster.release();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exitCode = 1;
});
