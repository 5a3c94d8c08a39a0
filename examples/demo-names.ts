/**
 * The demo runs the example topology (`default`, `for_task1`, `for_task2`) on whatever broker it
 * finds, which may already hold objects of those names declared otherwise (an exchange `default`
 * of another type would fail the declare with 406). So it declares its own copy under a prefix
 * of its own run, `demo-<random>.for_task1`, with queues that the broker deletes a minute after
 * the demo stops using them (`expires`) and exchanges that go with their last queue (`autoDelete`):
 * nothing of another application is touched and nothing is left behind.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { parse } from 'yaml';

type Doc = Record<string, unknown>;

const isObject = (value: unknown): value is Doc => typeof value === 'object' && value !== null && !Array.isArray(value);

export interface DemoNames {
  /** The prefix of this run, e.g. `demo-1a2b3c.`. */
  readonly prefix: string;
  /** The definitions of this run: a folder of prefixed copies of the source files. */
  readonly definitions: string;
  /** A queue's name in this run: `for_task1` → `demo-1a2b3c.for_task1`. */
  queue(name: string): string;
}

/**
 * Writes prefixed copies of the definitions at `source` (a file or a folder of them) into `into`
 * and returns where they are. Every exchange and queue name, and every reference to one
 * (bindings, dead-letter exchanges, the default queue, routes, schedule entries), gets the
 * prefix; the default exchange `""` stays. Task names and routing keys are left as they are.
 */
export function prefixDefinitions(source: string, into: string): DemoNames {
  const prefix = `demo-${randomBytes(3).toString('hex')}.`;
  const named = (name: unknown): unknown => (typeof name === 'string' && name !== '' ? `${prefix}${name}` : name);
  const target = (value: unknown): unknown => {
    if (typeof value === 'string') return named(value); // a route given as a bare queue name
    if (!isObject(value)) return value;
    return { ...value, ...('queue' in value ? { queue: named(value.queue) } : {}), ...('exchange' in value ? { exchange: named(value.exchange) } : {}) };
  };
  const mapValues = (value: unknown, map: (v: unknown) => unknown): unknown =>
    isObject(value) ? Object.fromEntries(Object.entries(value).map(([key, v]) => [key, map(v)])) : value;
  const prefixDocument = (doc: Doc): Doc => {
    const out: Doc = { ...doc };
    if (Array.isArray(doc.exchanges)) {
      out.exchanges = doc.exchanges.map((x: unknown) => (isObject(x) ? { ...x, name: named(x.name), autoDelete: true } : x));
    }
    if (Array.isArray(doc.queues)) {
      out.queues = doc.queues.map((q: unknown) => {
        if (!isObject(q)) return q;
        const queue: Doc = { ...q, name: named(q.name), expires: '1m' };
        if ('exchange' in q) queue.exchange = named(q.exchange);
        if ('deadLetterExchange' in q) queue.deadLetterExchange = named(q.deadLetterExchange);
        if (isObject(q.deadLetterQueue) && 'name' in q.deadLetterQueue) queue.deadLetterQueue = { ...q.deadLetterQueue, name: named(q.deadLetterQueue.name) };
        if (Array.isArray(q.bindings)) queue.bindings = q.bindings.map((b: unknown) => (isObject(b) ? { ...b, exchange: named(b.exchange) } : b));
        return queue;
      });
    }
    if ('defaultQueue' in doc) out.defaultQueue = named(doc.defaultQueue);
    if ('routes' in doc) out.routes = mapValues(doc.routes, target);
    if ('schedule' in doc) out.schedule = mapValues(doc.schedule, target);
    return out;
  };

  const files = statSync(source).isDirectory()
    ? readdirSync(source)
        .filter((name) => ['.yaml', '.yml', '.json'].includes(extname(name).toLowerCase()))
        .map((name) => join(source, name))
    : [source];
  const folder = join(into, 'definitions');
  mkdirSync(folder, { recursive: true });
  for (const file of files) {
    const doc: unknown = parse(readFileSync(file, 'utf8'));
    // JSON is YAML: each copy keeps its file's name, so the folder merges in the same order.
    writeFileSync(join(folder, basename(file)), JSON.stringify(isObject(doc) ? prefixDocument(doc) : doc, null, 2));
  }
  return { prefix, definitions: folder, queue: (name) => `${prefix}${name}` };
}
