import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type Channel, type ChannelModel } from 'amqplib';
import { testBrokerUrl } from './broker-url';

/** A random prefix so concurrent and repeated runs never share a queue or exchange. */
export function randomPrefix(label: string): string {
  return `test.${label}.${randomBytes(4).toString('hex')}`;
}

/**
 * A direct connection to the test broker for looking at what actually reached which queue,
 * and for deleting what a test made.
 */
export class BrokerProbe {
  private constructor(
    private readonly model: ChannelModel,
    private channel: Channel,
  ) {}

  /** @param url - the broker (and virtual host) to look at; the test broker's `/` by default. */
  static async open(url = testBrokerUrl()): Promise<BrokerProbe> {
    const model = await connect(url);
    const channel = await model.createChannel();
    channel.on('error', () => undefined);
    return new BrokerProbe(model, channel);
  }

  /** A fresh channel for when a passive check closed the previous one. */
  private async reopen(): Promise<void> {
    this.channel = await this.model.createChannel();
    this.channel.on('error', () => undefined);
  }

  /** Messages ready in the queue (not counting unacknowledged ones). */
  async messageCount(queue: string): Promise<number> {
    try {
      return (await this.channel.checkQueue(queue)).messageCount;
    } catch (err) {
      await this.reopen();
      throw err;
    }
  }

  async consumerCount(queue: string): Promise<number> {
    return (await this.channel.checkQueue(queue)).consumerCount;
  }

  async queueExists(queue: string): Promise<boolean> {
    try {
      await this.channel.checkQueue(queue);
      return true;
    } catch {
      await this.reopen();
      return false;
    }
  }

  /** Publishes raw bytes straight to a queue, as a foreign or broken client would. */
  async sendRaw(queue: string, content: Buffer, options: Parameters<Channel['sendToQueue']>[2] = {}): Promise<void> {
    this.channel.sendToQueue(queue, content, options);
    await new Promise((resolve) => setImmediate(resolve));
  }

  async get(queue: string): Promise<Awaited<ReturnType<Channel['get']>>> {
    return this.channel.get(queue, { noAck: true });
  }

  async declareQueue(queue: string, options: Parameters<Channel['assertQueue']>[1]): Promise<void> {
    await this.channel.assertQueue(queue, options);
  }

  /** Deletes queues and exchanges whose names start with the prefix. */
  async cleanUp(queues: readonly string[], exchanges: readonly string[] = []): Promise<void> {
    for (const queue of queues) await this.channel.deleteQueue(queue).catch(() => this.reopen());
    for (const exchange of exchanges) await this.channel.deleteExchange(exchange).catch(() => this.reopen());
  }

  async close(): Promise<void> {
    await this.model.close().catch(() => undefined);
  }
}

/** Polls until `check` returns true, or fails with `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000, intervalMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** A definitions file in a temporary folder; `remove()` deletes it. */
export function writeDefinitionsFile(content: unknown, name = 'warren.json'): { dir: string; file: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'warren-defs-'));
  const file = join(dir, name);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return { dir, file, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * The example routing topology (queues default, for_task1, for_task2, each with its own direct
 * exchange) under a random prefix, as a definitions document.
 */
export function exampleTopology(prefix: string): {
  definitions: Record<string, unknown>;
  queues: { default: string; task1: string; task2: string };
  exchanges: string[];
  tasks: { deal1: string; deal2: string };
} {
  const queues = { default: `${prefix}.default`, task1: `${prefix}.for_task1`, task2: `${prefix}.for_task2` };
  const tasks = { deal1: `${prefix}.app1.tasks1.deal1`, deal2: `${prefix}.app1.tasks2.deal2` };
  return {
    queues,
    tasks,
    exchanges: [queues.default, queues.task1, queues.task2],
    definitions: {
      broker: { url: testBrokerUrl() },
      exchanges: [
        { name: queues.default, type: 'direct' },
        { name: queues.task1, type: 'direct' },
        { name: queues.task2, type: 'direct' },
      ],
      queues: [
        { name: queues.default, exchange: queues.default, routingKey: 'default' },
        { name: queues.task1, exchange: queues.task1, routingKey: 'task_a' },
        { name: queues.task2, exchange: queues.task2, routingKey: 'task_b' },
      ],
      defaultQueue: queues.default,
      routes: {
        [tasks.deal1]: { queue: queues.task1, routingKey: 'task_a' },
        [`${prefix}.app1.tasks2.*`]: { queue: queues.task2 },
      },
    },
  };
}
