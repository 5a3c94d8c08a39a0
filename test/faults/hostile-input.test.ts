import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { GetMessage, Options } from 'amqplib';
import { createApp, createLogger, type App } from '../../src';
import { BrokerProbe, randomPrefix, waitFor, writeDefinitionsFile } from '../support/broker';
import { testBrokerUrl } from '../support/broker-url';
import { faultCounts, printCounts, readRecord } from '../support/task-record';
import { startTestWorker, type WorkerProcess } from '../support/worker-process';

const VALID = 1000;
const MALFORMED = 1000;
/** The worker's limit in this test, so oversized messages stay cheap to send. */
const MAX_MESSAGE_BYTES = 64 * 1024;

/** Resident memory of a process, in MiB, as `ps` reports it. */
function rssMiB(pid: number): number {
  return Math.round(Number(execFileSync('ps', ['-o', 'rss=', '-p', String(pid)], { encoding: 'utf8' }).trim()) / 1024);
}

interface Malformed {
  kind: string;
  body: Buffer;
  properties: Options.Publish;
  /** What the reason header must say. */
  reason: RegExp;
}

/**
 * Every kind of message that cannot be a task: the broken, the foreign and the hostile. `mark`
 * goes into a header of its own, so the dead letter can be matched with what was sent.
 */
function malformedKinds(prefix: string, task: string): Array<(mark: string) => Malformed> {
  const json = { contentType: 'application/json', contentEncoding: 'utf-8' };
  const v2 = (mark: string, headers: Record<string, unknown> = {}): Options.Publish => ({
    ...json,
    headers: { task, id: `bad-${mark}`, 'x-test-mark': mark, ...headers },
  });
  const ok = Buffer.from('[[0], {}, null]');
  return [
    (mark) => ({ kind: 'random bytes', body: randomBytes(256), properties: v2(mark), reason: /not valid (UTF-8|JSON)/ }),
    (mark) => ({ kind: 'not JSON', body: Buffer.from('{"args": [1, 2'), properties: v2(mark), reason: /body is not valid JSON/ }),
    (mark) => ({ kind: 'pickle', body: ok, properties: { ...v2(mark), contentType: 'application/x-python-serialize' }, reason: /content type "application\/x-python-serialize" is not supported/ }),
    (mark) => ({ kind: 'no content type', body: ok, properties: { ...v2(mark), contentType: undefined }, reason: /content type is missing/ }),
    (mark) => ({ kind: 'binary encoding', body: ok, properties: { ...v2(mark), contentEncoding: 'binary' }, reason: /content encoding "binary" is not supported/ }),
    (mark) => ({ kind: 'compressed', body: ok, properties: v2(mark, { compression: 'application/x-gzip' }), reason: /compressed bodies are not supported/ }),
    (mark) => ({ kind: 'two-element body', body: Buffer.from('[[0], {}]'), properties: v2(mark), reason: /body must be \[args, kwargs, embed\] \(found array of 2 elements\)/ }),
    (mark) => ({ kind: 'string body', body: Buffer.from('"run record please"'), properties: v2(mark), reason: /body must be \[args, kwargs, embed\] \(found string/ }),
    (mark) => ({ kind: 'no task name', body: Buffer.from('{"id": "x", "args": []}'), properties: { ...json, headers: { 'x-test-mark': mark } }, reason: /no task name/ }),
    (mark) => ({ kind: 'id not a string', body: ok, properties: v2(mark, { id: 42 }), reason: /id must be a non-empty string \(found number 42\)/ }),
    (mark) => ({ kind: 'no id', body: ok, properties: v2(mark, { id: undefined }), reason: /id must be a non-empty string \(found nothing\)/ }),
    (mark) => ({ kind: 'retries a string', body: ok, properties: v2(mark, { retries: '1' }), reason: /retries must be a non-negative integer \(found string "1"\)/ }),
    (mark) => ({ kind: 'eta not a date', body: ok, properties: v2(mark, { eta: 'tomorrow' }), reason: /eta must be an ISO 8601 date or null \(found string "tomorrow"\)/ }),
    (mark) => ({ kind: 'expires a number', body: ok, properties: v2(mark, { expires: 1700000000 }), reason: /expires must be an ISO 8601 date or null/ }),
    (mark) => ({ kind: 'timelimit wrong', body: ok, properties: v2(mark, { timelimit: 'soon' }), reason: /timelimit must be \[hard, soft\]/ }),
    (mark) => ({ kind: 'args not a list', body: Buffer.from('[{"a": 1}, {}, null]'), properties: v2(mark), reason: /args must be a list \(found object\)/ }),
    (mark) => ({ kind: 'kwargs a list', body: Buffer.from('[[], [1], null]'), properties: v2(mark), reason: /kwargs must be an object \(found array of 1 element\)/ }),
    (mark) => ({ kind: 'bad embed', body: Buffer.from(`[[], {}, {"callbacks": ${JSON.stringify(Array(500).fill(1))}}]`), properties: v2(mark), reason: /embed\.callbacks\[0\] must be a signature.*; and 490 more problems$/ }),
    (mark) => ({ kind: 'nested too deeply', body: Buffer.from(`[${'['.repeat(20_000)}${']'.repeat(20_000)}, {}, null]`), properties: v2(mark), reason: /nested too deeply/ }),
    (mark) => ({ kind: 'unknown kombu tag', body: Buffer.from('[[{"__type__": "pickle", "__value__": "x"}], {}, null]'), properties: v2(mark), reason: /kombu JSON type "pickle" is not supported/ }),
    (mark) => ({ kind: 'oversized args', body: Buffer.from(JSON.stringify([['x'.repeat(MAX_MESSAGE_BYTES)], {}, null])), properties: v2(mark), reason: /over the maximum message size of 64 KiB \(65536 bytes\)/ }),
    (mark) => ({ kind: 'oversized garbage', body: randomBytes(MAX_MESSAGE_BYTES + 1), properties: v2(mark), reason: /the message body is 64 KiB \(65537 bytes\), over the maximum message size/ }),
    (mark) => ({ kind: 'unknown task', body: ok, properties: v2(mark, { task: `${prefix}.no.such.task` }), reason: /is not registered on this worker/ }),
  ];
}

describe('hostile input', () => {
  const prefix = randomPrefix('fault-hostile');
  const exchange = `${prefix}.x`;
  const queue = `${prefix}.work`;
  const dlq = `${queue}.dlq`;
  const defs = writeDefinitionsFile({
    broker: { url: testBrokerUrl() },
    exchanges: [{ name: exchange, type: 'direct' }],
    queues: [{ name: queue, exchange, routingKey: 'work', deadLetterQueue: true }],
    defaultQueue: queue,
  });
  const record = join(defs.dir, 'record.txt');
  let probe!: BrokerProbe;
  let client!: App;
  let worker: WorkerProcess | undefined;

  beforeAll(async () => {
    probe = await BrokerProbe.open();
    client = createApp({ definitions: defs.file, logger: createLogger({ level: 'silent' }) });
  });

  afterAll(async () => {
    await worker?.stop('SIGKILL');
    await client.close();
    await probe.cleanUp([queue, dlq], [exchange, dlq]);
    await probe.close();
    defs.remove();
  });

  test(`${MALFORMED} malformed messages among ${VALID} valid ones: every valid one runs, every malformed one is dead-lettered with its reason, the worker never exits`, async () => {
    const task = `${prefix}.record`;
    worker = startTestWorker({
      prefix, definitions: defs.file, queues: [queue], name: 'hostile@fault', concurrency: 4,
      env: { WARREN_TEST_RECORD: record }, extraArgs: ['--max-message-size', '64KiB'],
    });
    await worker.ready;
    const pid = worker.child.pid!;
    const rssBefore = rssMiB(pid);

    const kinds = malformedKinds(prefix, task);
    const sent = new Map<string, Malformed>();
    const sendMalformed = async (): Promise<void> => {
      for (let i = 0; i < MALFORMED; i += 1) {
        const message = kinds[i % kinds.length](String(i));
        sent.set(String(i), message);
        await probe.sendRaw(queue, message.body, { persistent: true, ...message.properties });
      }
    };
    // The two streams go in at once, so malformed and valid messages are interleaved in the queue.
    const [, sends] = await Promise.all([
      sendMalformed(),
      Promise.allSettled(Array.from({ length: VALID }, () => client.sendTask(task, [0], {}, { ignoreResult: true }))),
    ]);
    const confirmed = sends.flatMap((s) => (s.status === 'fulfilled' ? [s.value.id] : []));

    await waitFor('every valid task to run', () => {
      const done = new Set(readRecord(record).map((l) => l.taskId));
      return confirmed.every((id) => done.has(id));
    }, 90_000, 250);
    await waitFor('every malformed message in the dead-letter queue', async () => (await probe.messageCount(dlq)) === MALFORMED, 60_000, 250);
    const rssAfter = rssMiB(pid);

    const deadLetters: GetMessage[] = [];
    for (let message = await probe.get(dlq); message !== false; message = await probe.get(dlq)) deadLetters.push(message);
    const wrong: string[] = [];
    const marks = new Set<string>();
    for (const letter of deadLetters) {
      const headers = letter.properties.headers ?? {};
      const mark = String(headers['x-test-mark']);
      const expected = sent.get(mark);
      const reason = String(headers['x-warren-reason']);
      marks.add(mark);
      if (!expected) wrong.push(`unexpected dead letter ${mark}: ${reason}`);
      else if (!expected.reason.test(reason)) wrong.push(`${expected.kind}: reason ${JSON.stringify(reason.slice(0, 300))} does not match ${expected.reason}`);
      else if (!letter.content.equals(expected.body)) wrong.push(`${expected.kind}: the dead letter's body differs from what was sent`);
    }

    const counts = faultCounts(VALID, confirmed, readRecord(record));
    const rejectedLogs = worker.logLines('message rejected: not a valid task').length + worker.logLines('message rejected: too large').length;
    printCounts(`${MALFORMED} malformed (${kinds.length} kinds) among ${VALID} valid messages`, counts, {
      'malformed sent': sent.size,
      'dead-lettered': deadLetters.length,
      'rejections logged': rejectedLogs,
      'worker RSS before': `${rssBefore} MiB`,
      'worker RSS after': `${rssAfter} MiB`,
    });

    expect(wrong).toEqual([]);
    expect(marks.size).toBe(MALFORMED);
    expect(rejectedLogs).toBe(MALFORMED);
    expect(counts).toEqual({ sent: VALID, confirmed: VALID, processed: VALID, duplicates: 0, lost: 0 });
    expect(await probe.messageCount(queue)).toBe(0);
    // Still running, and still working.
    expect(worker.child.exitCode).toBeNull();
    const after = await client.sendTask(task, [0], {}, { ignoreResult: true });
    await waitFor('a task sent afterwards to run', () => readRecord(record).some((l) => l.event === 'done' && l.taskId === after.id));
  });
});
