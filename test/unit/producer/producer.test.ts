import { createLogger } from '../../../src';
import { MessageTooLargeError, UsageError } from '../../../src/errors';
import { Producer, type DelayedDelivery } from '../../../src/producer';
import type { Route, Router } from '../../../src/router';
import type { PublishRequest } from '../../../src/transport';

/** A producer over a fixed route, recording each publish and the delay it asked for. */
function producer() {
  const published: Array<{ request: PublishRequest; delayMs: number; at: number }> = [];
  const route: Route = { exchange: 'jobs', routingKey: 'task_a', queue: 'q1' };
  const router: Router = { route: () => route };
  const delays = {
    publish: async (request: PublishRequest, delayMs: number) => {
      published.push({ request, delayMs, at: Date.now() });
    },
  } as unknown as DelayedDelivery;
  return { producer: new Producer(router, delays, createLogger({ level: 'silent' })), published };
}

const send = (options: Parameters<Producer['publish']>[0]['options']) => ({
  taskId: 'id-1',
  taskName: 'app.task',
  args: [],
  kwargs: {},
  replyTo: 'reply',
  options,
});

describe('Producer: countdown and eta', () => {
  test('a task without countdown or eta goes out now, with no eta header', async () => {
    const { producer: p, published } = producer();
    const sent = await p.publish(send({}));
    expect(sent.eta).toBeNull();
    expect(published[0].delayMs).toBe(0);
    expect(published[0].request.properties.headers?.eta).toBeNull();
  });

  test('countdown sets the eta header to now + countdown and asks for that delay from the publish on', async () => {
    const { producer: p, published } = producer();
    const before = Date.now();
    const sent = await p.publish(send({ countdown: 30 }));
    const eta = sent.eta!.getTime();
    expect(eta).toBeGreaterThanOrEqual(before + 30_000);
    expect(eta).toBeLessThanOrEqual(Date.now() + 30_000);
    expect(new Date(published[0].request.properties.headers?.eta as string).getTime()).toBe(eta);
    // Counted from after the message was built, so the delay never ends before the eta.
    expect(published[0].delayMs).toBeLessThanOrEqual(30_000);
    expect(published[0].delayMs).toBeGreaterThan(29_000);
    expect(published[0].request.exchange).toBe('jobs');
    expect(published[0].request.routingKey).toBe('task_a');
  });

  test('an eta is sent as given', async () => {
    const { producer: p, published } = producer();
    const eta = new Date(Date.now() + 3_600_000);
    await p.publish(send({ eta }));
    expect(published[0].request.properties.headers?.eta).toBe(eta.toISOString().replace('Z', '000+00:00'));
    expect(published[0].delayMs).toBeGreaterThan(3_599_000);
  });

  test('an eta in the past goes out now and keeps its eta header', async () => {
    const { producer: p, published } = producer();
    await p.publish(send({ eta: new Date(Date.now() - 5000) }));
    expect(published[0].delayMs).toBeLessThanOrEqual(0);
    expect(published[0].request.properties.headers?.eta).not.toBeNull();
  });

  test('countdown and eta together, a negative countdown or an invalid date are usage errors', async () => {
    const { producer: p, published } = producer();
    await expect(p.publish(send({ countdown: 1, eta: new Date() }))).rejects.toThrow(new UsageError('sendTask: give countdown or eta, not both'));
    await expect(p.publish(send({ countdown: -1 }))).rejects.toThrow('countdown must be a number of seconds >= 0 (got -1)');
    await expect(p.publish(send({ eta: new Date('nope') }))).rejects.toThrow('eta must be a valid Date');
    expect(published).toEqual([]);
  });

  test('timeLimit and softTimeLimit travel as the timelimit header, hard first', async () => {
    const { producer: p, published } = producer();
    await p.publish(send({ timeLimit: 10, softTimeLimit: 5 }));
    expect(published[0].request.properties.headers?.timelimit).toEqual([10, 5]);
  });

  test('expires travels as the expires header only: no expiration property, so the broker never drops a task unseen', async () => {
    const { producer: p, published } = producer();
    const expires = new Date(Date.now() + 60_000);
    await p.publish(send({ expires }));
    expect(published[0].request.properties.headers?.expires).toBe(expires.toISOString().replace('Z', '000+00:00'));
    expect(published[0].request.properties).not.toHaveProperty('expiration');
  });
});

describe('Producer: maximum message size', () => {
  test('a task whose body is over the limit rejects with WARREN_MESSAGE_TOO_LARGE before anything is published', async () => {
    const published: PublishRequest[] = [];
    const delays = { publish: async (request: PublishRequest) => void published.push(request) } as unknown as DelayedDelivery;
    const router: Router = { route: () => ({ exchange: 'jobs', routingKey: 'task_a', queue: 'q1' }) };
    const limited = new Producer(router, delays, createLogger({ level: 'silent' }), 1024);

    const oversized = limited.publish({ ...send({}), args: ['x'.repeat(2000)] });
    await expect(oversized).rejects.toBeInstanceOf(MessageTooLargeError);
    await expect(oversized).rejects.toMatchObject({
      code: 'WARREN_MESSAGE_TOO_LARGE',
      limitBytes: 1024,
      message: expect.stringMatching(
        /^task app\.task\[id-1\]: the message body is 2 KiB \(\d+ bytes\), over the maximum message size of 1 KiB \(1024 bytes\); pass large data by reference, or raise maxMessageBytes \(--max-message-size\)$/,
      ),
    });
    expect(published).toEqual([]);

    await limited.publish({ ...send({}), args: ['x'.repeat(900)] });
    expect(published).toHaveLength(1);
  });
});
