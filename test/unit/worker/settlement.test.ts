import { Retry, TaskFailedError, TaskRevokedError } from '../../../src/errors';
import { memoryConnection, settle, until } from '../../support/memory';
import { gate, isControlPlane, memoryApp, publishTask, type MemoryApp } from '../../support/memory-app';

/*
 * The worker's settlement matrix on the memory broker: for each outcome of a delivery, what
 * reached which queue, in which order (a result before the ack that follows it), and what
 * state the caller's result has. Each runs in milliseconds, with no RabbitMQ.
 */

let env: MemoryApp;

afterEach(async () => {
  await env?.close();
});

/** What happened on the app's broker, a line each (see `describeEvent`). */
const trace = () => env.trace();

/**
 * The trace with the retries of a refused publish (the same publish and refusal again, as the
 * publisher tries a nack again until publishTimeoutMs) shown once.
 */
function retriesOnce(lines: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < lines.length; i += 1) {
    const n = out.length;
    if (n >= 2 && out[n - 1].startsWith('refused by ') && lines[i] === out[n - 2] && lines[i + 1] === out[n - 1]) {
      i += 1;
      continue;
    }
    out.push(lines[i]);
  }
  return out;
}

describe('worker settlement on memory://', () => {
  test('success: the SUCCESS result is published, then the delivery is acked', async () => {
    env = memoryApp();
    env.app.task('math.add', async (a: number, b: number) => a + b);
    await env.app.startWorker({ queues: ['jobs'], concurrency: 1 });
    const result = await env.app.sendTask<number>('math.add', [2, 3]);
    expect(await result.get({ timeout: 5000 })).toBe(5);
    await until(() => trace().includes('ack jobs'), 'the ack');
    expect(trace()).toEqual(['task math.add#0 -> jobs', 'result SUCCESS', 'ack jobs']);
    expect(env.broker.queue('jobs')).toMatchObject({ messageCount: 0, unackedCount: 0 });
  });

  test('failure: the FAILURE result is published, then the delivery is acked; get() rejects with the error', async () => {
    env = memoryApp();
    env.app.task('boom', async () => {
      throw new TypeError('bad input');
    });
    await env.app.startWorker({ queues: ['jobs'], concurrency: 1 });
    const result = await env.app.sendTask('boom');
    const error = await result.get({ timeout: 5000 }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(TaskFailedError);
    expect((error as TaskFailedError).message).toContain('TypeError: bad input');
    await until(() => trace().includes('ack jobs'), 'the ack');
    expect(trace()).toEqual(['task boom#0 -> jobs', 'result FAILURE', 'ack jobs']);
  });

  test('retry: the next attempt is published (and confirmed) before RETRY is reported and the delivery acked; then it succeeds', async () => {
    env = memoryApp();
    let runs = 0;
    env.app.task('flaky', async () => {
      runs += 1;
      if (runs === 1) throw new Retry({ countdown: 0 });
      return 'done';
    });
    await env.app.startWorker({ queues: ['jobs'], concurrency: 1 });
    const result = await env.app.sendTask<string>('flaky');
    expect(await result.get({ timeout: 5000 })).toBe('done');
    await until(() => trace().filter((line) => line === 'ack jobs').length === 2, 'both acks');
    expect(trace()).toEqual(['task flaky#0 -> jobs', 'task flaky#1 -> jobs', 'result RETRY', 'ack jobs', 'result SUCCESS', 'ack jobs']);
    expect(result.history).toEqual(['PENDING', 'RETRY', 'SUCCESS']);
  });

  test('retry whose next attempt the broker refuses: no RETRY, no ack; the delivery goes back to the queue (after a pause) and runs again', async () => {
    // A queue that refuses publishes once one message waits in it.
    // The refused retry is tried again (a nack may be a quorum leader election) until publishTimeoutMs.
    env = memoryApp({ jobs: { maxLength: 1, arguments: { 'x-overflow': 'reject-publish' } } }, { publishTimeoutMs: 1000 });
    const filled = gate();
    let runs = 0;
    env.app.task('flaky', async () => {
      runs += 1;
      if (runs > 1) return 'done';
      await filled.wait;
      throw new Retry({ countdown: 0 });
    });
    env.app.task('noop', async () => undefined);
    await env.app.startWorker({ queues: ['jobs'], concurrency: 1 });
    const result = await env.app.sendTask<string>('flaky');
    await until(() => runs === 1, 'the first run');
    await env.app.sendTask('noop', [], {}, { ignoreResult: true });
    filled.open();
    expect(await result.get({ timeout: 5000 })).toBe('done');
    await until(() => trace().filter((line) => line === 'ack jobs').length === 2, 'both acks');
    expect(trace().filter((line) => line === 'refused by jobs (full)').length).toBeGreaterThan(1);
    expect(retriesOnce(trace())).toEqual([
      'task flaky#0 -> jobs',
      'task noop#0 -> jobs',
      'task flaky#1 -> jobs',
      'refused by jobs (full)',
      'requeue jobs (nack)',
      'result SUCCESS',
      'ack jobs',
      'ack jobs',
    ]);
    expect(result.history).toEqual(['PENDING', 'SUCCESS']);
  });

  test('retry with a countdown: the next attempt waits in the broker\'s delay levels, not in the worker', async () => {
    env = memoryApp();
    env.app.task('later', async () => {
      throw new Retry({ countdown: 5 });
    });
    await env.app.startWorker({ queues: ['jobs'], concurrency: 1 });
    await env.app.sendTask('later');
    await until(() => trace().includes('ack jobs'), 'the ack');
    expect(trace()).toEqual(['task later#0 -> jobs', 'task later#1 -> warren.delay.4s', 'result RETRY', 'ack jobs']);
    const [waiting] = env.broker.messages('warren.delay.4s');
    expect(waiting.properties.headers).toMatchObject({
      retries: 1,
      'warren-delay-queue': 'jobs',
      'warren-delay-bit-0': '1',
      'warren-delay-bit-1': '0',
      'warren-delay-bit-2': '1',
    });
    expect(env.broker.queue('jobs')).toMatchObject({ messageCount: 0, unackedCount: 0 });
  });

  test('retry with delays in quorum levels: the next attempt waits in warren.delay.quorum.*, declared as quorum queues, and runs', async () => {
    env = memoryApp({ extra: { delays: { queueType: 'quorum' } } });
    let runs = 0;
    env.app.task('later', async () => {
      runs += 1;
      if (runs === 1) throw new Retry({ countdown: 1 });
      return 'second';
    });
    await env.app.startWorker({ queues: ['jobs'], concurrency: 1 });
    const result = await env.app.sendTask('later');
    await expect(result.get({ timeout: 5000 })).resolves.toBe('second');
    expect(trace().filter((line) => line.startsWith('task '))).toEqual(['task later#0 -> jobs', 'task later#1 -> warren.delay.quorum.1s']);
    expect(env.broker.queue('warren.delay.quorum.1s')).toMatchObject({ type: 'quorum', messageCount: 0 });
    expect(env.broker.queue('warren.delay.1s')).toBeUndefined();
  });

  test('expired: not run; REVOKED is published, then the delivery is acked', async () => {
    env = memoryApp();
    let ran = false;
    env.app.task('stale', async () => {
      ran = true;
    });
    await env.app.startWorker({ queues: ['jobs'], concurrency: 1 });
    const result = await env.app.sendTask('stale', [], {}, { expires: new Date(Date.now() - 1000) });
    await expect(result.get({ timeout: 5000 })).rejects.toBeInstanceOf(TaskRevokedError);
    await until(() => trace().includes('ack jobs'), 'the ack');
    expect(trace()).toEqual(['task stale#0 -> jobs', 'result REVOKED', 'ack jobs']);
    expect(ran).toBe(false);
  });

  describe('messages that cannot be run', () => {
    test('not a task: a copy with x-warren-reason goes to the dead-letter exchange, then the delivery is acked', async () => {
      env = memoryApp({ jobs: { deadLetterQueue: true } });
      await env.app.startWorker({ queues: ['jobs'], concurrency: 1 });
      env.broker.publish('', 'jobs', Buffer.from('{not json'), { contentType: 'application/json', headers: { task: 'x', id: 'bad-1' } });
      await until(() => trace().includes('ack jobs'), 'the ack');
      expect(trace()).toEqual(['task x -> jobs', 'dead letter -> jobs.dlq', 'ack jobs']);
      const [dead] = env.broker.messages('jobs.dlq');
      expect(dead.content.toString()).toBe('{not json');
      expect(dead.properties.headers).toMatchObject({ 'x-warren-queue': 'jobs', 'x-warren-reason': expect.stringMatching(/./) });
    });

    test('unknown task: a NotRegistered FAILURE, then the dead letter, then the ack', async () => {
      env = memoryApp({ jobs: { deadLetterQueue: true } });
      await env.app.startWorker({ queues: ['jobs'], concurrency: 1 });
      const result = await env.app.sendTask('nobody.runs.this');
      await expect(result.get({ timeout: 5000 })).rejects.toMatchObject({ remoteType: 'NotRegistered' });
      await until(() => trace().includes('ack jobs'), 'the ack');
      expect(trace()).toEqual(['task nobody.runs.this#0 -> jobs', 'result FAILURE', 'dead letter -> jobs.dlq', 'ack jobs']);
      expect(env.broker.messages('jobs.dlq')[0].properties.headers?.['x-warren-reason']).toBe('task "nobody.runs.this" is not registered on this worker');
    });

    test('too large: dead-lettered unparsed, with both sizes in the reason', async () => {
      env = memoryApp({ jobs: { deadLetterQueue: true } });
      await env.app.startWorker({ queues: ['jobs'], concurrency: 1, maxMessageBytes: 64 });
      publishTask(env.broker, 'jobs', { task: 'big', id: 'big-1', args: ['x'.repeat(200)] });
      await until(() => trace().includes('ack jobs'), 'the ack');
      expect(trace()).toEqual(['task big#0 -> jobs', 'dead letter -> jobs.dlq', 'ack jobs']);
      expect(env.broker.messages('jobs.dlq')[0].properties.headers?.['x-warren-reason']).toMatch(
        /^task big\[big-1\]: the message body is \d+ bytes .*, over the maximum message size of 64 bytes/,
      );
    });

    test('without a dead-letter exchange the message is rejected without requeue, and the broker drops it', async () => {
      env = memoryApp();
      await env.app.startWorker({ queues: ['jobs'], concurrency: 1 });
      env.broker.publish('', 'jobs', Buffer.from('[]'), { contentType: 'text/plain' });
      await until(() => trace().some((line) => line.startsWith('dead-letter')), 'the rejection');
      expect(trace()).toEqual(['message -> jobs', 'reject jobs', 'dead-letter jobs (rejected) -> dropped']);
      expect(env.broker.queue('jobs')).toMatchObject({ messageCount: 0, unackedCount: 0 });
    });
  });

  describe('delivery limits', () => {
    /** The next message of `queue` is delivered to a client whose connection then dies with it unacked. */
    async function loseDelivery(queue: string): Promise<void> {
      const transport = await memoryConnection(env.broker);
      const channel = await transport.openChannel();
      let taken = false;
      await channel.consume(queue, (message) => {
        taken ||= message !== null;
      });
      await until(() => taken, 'the delivery');
      env.broker.dropConnection(env.broker.connectionList().at(-1)!.id);
      await transport.close();
    }

    /** Makes the broker redeliver the next message of `queue`: a client takes it and hands it back. */
    async function redeliverOnce(queue: string): Promise<void> {
      const transport = await memoryConnection(env.broker);
      const channel = await transport.openChannel();
      let taken = false;
      await channel.consume(queue, (message) => {
        if (taken || !message) return;
        taken = true;
        channel.nack(message, false, true);
      });
      await until(() => taken, 'the first delivery');
      await transport.close();
    }

    test('classic queue with deliveryLimit 2: a redelivery is counted (a copy with x-warren-deliveries 1) and runs', async () => {
      env = memoryApp({ jobs: { deliveryLimit: 2, deadLetterQueue: true } });
      let runs = 0;
      env.app.task('counted', async () => {
        runs += 1;
      });
      await env.app.declareTopology();
      publishTask(env.broker, 'jobs', { task: 'counted' });
      await redeliverOnce('jobs');
      await env.app.startWorker({ queues: ['jobs'], concurrency: 1 });
      await until(() => runs === 1, 'the run');
      await until(() => trace().filter((line) => line === 'ack jobs').length === 2, 'both acks');
      expect(trace()).toEqual(['task counted#0 -> jobs', 'requeue jobs (nack)', 'task counted#0 -> jobs', 'ack jobs', 'ack jobs']);
      const copy = env.events.filter((e) => !isControlPlane(e)).find((e, i) => i === 2 && e.type === 'published');
      expect(copy?.type === 'published' && copy.message.properties.headers?.['x-warren-deliveries']).toBe(1);
    });

    test('classic queue with deliveryLimit 2: past the limit the message is dead-lettered as a poison message, not run', async () => {
      env = memoryApp({ jobs: { deliveryLimit: 2, deadLetterQueue: true } });
      let runs = 0;
      env.app.task('poison', async () => {
        runs += 1;
      });
      await env.app.declareTopology();
      publishTask(env.broker, 'jobs', { task: 'poison', headers: { 'x-warren-deliveries': 1 } });
      await redeliverOnce('jobs');
      await env.app.startWorker({ queues: ['jobs'], concurrency: 1 });
      await until(() => trace().includes('ack jobs'), 'the ack');
      expect(trace()).toEqual(['task poison#0 -> jobs', 'requeue jobs (nack)', 'dead letter -> jobs.dlq', 'ack jobs']);
      expect(env.broker.messages('jobs.dlq')[0].properties.headers?.['x-warren-reason']).toBe(
        'delivered 2 times without finishing (deliveryLimit 2): a poison message',
      );
      expect(runs).toBe(0);
    });

    test('quorum queue with deliveryLimit 2 (x-delivery-limit 1): a message lost once still runs; one lost twice is dead-lettered by the broker, unrun', async () => {
      env = memoryApp({ jobs: { type: 'quorum', deliveryLimit: 2, deadLetterQueue: true } });
      const ran: string[] = [];
      env.app.task('job', async (name: string) => {
        ran.push(name);
      });
      await env.app.declareTopology();
      expect(env.broker.queue('jobs')?.arguments).toMatchObject({ 'x-queue-type': 'quorum', 'x-delivery-limit': 1 });
      publishTask(env.broker, 'jobs', { task: 'job', args: ['lost twice'] });
      await loseDelivery('jobs');
      await loseDelivery('jobs');
      publishTask(env.broker, 'jobs', { task: 'job', args: ['lost once'] });
      await loseDelivery('jobs');
      expect(trace().filter((line) => line.startsWith('dead-letter'))).toEqual(['dead-letter jobs (delivery_limit) -> jobs.dlq']);
      await env.app.startWorker({ queues: ['jobs'], concurrency: 1 });
      await until(() => ran.length === 1 && env.broker.queue('jobs')?.messageCount === 0 && env.broker.queue('jobs')?.unackedCount === 0, 'the run');
      await settle();
      expect(ran).toEqual(['lost once']);
      const [dead] = env.broker.messages('jobs.dlq');
      expect(dead.properties.headers).toMatchObject({ argsrepr: "['lost twice']", 'x-death': [expect.objectContaining({ reason: 'delivery_limit', queue: 'jobs' })] });
    });
  });

  describe('broker trouble', () => {
    test('a result the broker refuses (reply queue full, reject-publish): the delivery goes back to the queue and runs again', async () => {
      // The refused result is tried again (a nack may be a quorum leader election) until publishTimeoutMs.
      env = memoryApp({}, { publishTimeoutMs: 1000 });
      let runs = 0;
      env.app.task('answer', async () => {
        runs += 1;
        return 42;
      });
      const transport = await memoryConnection(env.broker);
      const channel = await transport.openChannel();
      // Full: three messages in, room for three, and publishes beyond that are nacked. Room for
      // three, not one: a result publish whose deadline passes between its write and its confirm
      // rejects (the broker may or may not have it) and may still land once the queue has room,
      // beside the next run's result, as at-least-once allows.
      await channel.assertQueue('replies', { durable: false, arguments: { 'x-max-length': 3, 'x-overflow': 'reject-publish' } });
      for (let i = 0; i < 3; i += 1) env.broker.publish('', 'replies', Buffer.from('filler'));
      await transport.close();
      await env.app.startWorker({ queues: ['jobs'], concurrency: 1 });
      publishTask(env.broker, 'jobs', { task: 'answer', replyTo: 'replies' });
      await until(() => trace().includes('requeue jobs (nack)'), 'the requeue');
      expect(trace().filter((line) => line === 'refused by replies (full)').length).toBeGreaterThan(1);
      expect(retriesOnce(trace()).slice(0, 7)).toEqual([
        ...Array<string>(3).fill('message -> replies'),
        'task answer#0 -> jobs',
        'result SUCCESS',
        'refused by replies (full)',
        'requeue jobs (nack)',
      ]);
      expect(trace()).not.toContain('ack jobs');
      // Once the reply queue has room again, the next run's result is confirmed and the delivery acked.
      env.broker.purgeQueue('replies');
      await until(() => trace().includes('ack jobs'), 'the ack');
      expect(runs).toBeGreaterThanOrEqual(2);
      const results = env.broker.messages('replies').map((m) => JSON.parse(m.content.toString()).result);
      expect(results.length).toBeGreaterThanOrEqual(1);
      expect(results.every((value) => value === 42)).toBe(true);
    });

    test('a channel closed mid-task: the broker redelivers, the new run is acked, the old run\'s ack never reaches the new channel', async () => {
      env = memoryApp();
      const first = gate();
      let runs = 0;
      env.app.task('slow', async () => {
        runs += 1;
        if (runs === 1) await first.wait;
        return runs;
      });
      await env.app.startWorker({ queues: ['jobs'], concurrency: 2 });
      await env.app.sendTask('slow', [], {}, { ignoreResult: true });
      await until(() => runs === 1, 'the first run');
      env.broker.dropConnections();
      await until(() => runs === 2, 'the run of the redelivery');
      await until(() => trace().includes('ack jobs'), 'the ack of the redelivery');
      first.open();
      await settle();
      expect(trace()).toEqual(['task slow#0 -> jobs', 'requeue jobs (channel closed)', 'ack jobs']);
      expect(env.broker.queue('jobs')).toMatchObject({ messageCount: 0, unackedCount: 0, consumerCount: 1 });
    });

    test('a consumer cancelled by the broker (its queue deleted) is restored: the queue is declared again and consumed', async () => {
      env = memoryApp();
      env.app.task('echo', async (text: string) => text);
      await env.app.startWorker({ queues: ['jobs'], concurrency: 1 });
      env.broker.deleteQueue('jobs');
      await until(() => env.broker.queue('jobs')?.consumerCount === 1, 'the restored consumer');
      const result = await env.app.sendTask<string>('echo', ['back']);
      expect(await result.get({ timeout: 5000 })).toBe('back');
    });
  });

  test('stop(): prefetched tasks go back to the queue at once, the running one finishes, delivers its result and is acked', async () => {
    env = memoryApp();
    const release = gate();
    const started: string[] = [];
    env.app.task('job', async (name: string) => {
      started.push(name);
      await release.wait;
      return name;
    });
    const worker = await env.app.startWorker({ queues: ['jobs'], concurrency: 1, prefetchMultiplier: 2 });
    const running = await env.app.sendTask<string>('job', ['running']);
    await env.app.sendTask('job', ['prefetched'], {}, { ignoreResult: true });
    await until(() => started.length === 1 && env.broker.queue('jobs')?.unackedCount === 2, 'one running, one prefetched');
    const stopped = worker.stop();
    await until(() => trace().includes('requeue jobs (nack)'), 'the prefetched one handed back');
    expect(trace()).not.toContain('ack jobs');
    release.open();
    await stopped;
    expect(await running.get({ timeout: 5000 })).toBe('running');
    expect(trace()).toEqual(['task job#0 -> jobs', 'task job#0 -> jobs', 'requeue jobs (nack)', 'result SUCCESS', 'ack jobs']);
    expect(started).toEqual(['running']);
    const [back] = env.broker.messages('jobs');
    expect(back.redelivered).toBe(true);
    expect(env.broker.queue('jobs')).toMatchObject({ messageCount: 1, unackedCount: 0, consumerCount: 0 });
  });
});
