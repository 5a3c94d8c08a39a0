import { join } from 'node:path';
import { createApp, memoryBroker, resetMemoryBroker } from '../../../src';
import { silent, until } from '../../support/memory';
import { memoryApp } from '../../support/memory-app';

describe('app on memory://', () => {
  test('sendTask reaches a worker and its result reaches the caller', async () => {
    const { app, broker, close } = memoryApp();
    try {
      app.task('math.add', async (a: number, b: number) => a + b);
      await app.startWorker({ queues: ['jobs'], concurrency: 1 });
      const result = await app.sendTask<number>('math.add', [2, 3]);
      expect(await result.get({ timeout: 5000 })).toBe(5);
      expect(result.state).toBe('SUCCESS');
      await until(() => broker.queue('jobs')?.unackedCount === 0, 'the ack');
      expect(broker.queue('jobs')).toMatchObject({ messageCount: 0, unackedCount: 0, consumerCount: 1 });
    } finally {
      await close();
    }
  });

  test("definitions given as an object (a file's content) are checked as a file is: a bad one is a DefinitionsError naming what is wrong", async () => {
    const url = 'memory://definitions-object';
    const app = createApp({
      logger: silent,
      definitions: { broker: { url }, exchanges: [{ name: 'jobs', type: 'direct' }], queues: [{ name: 'jobs', exchange: 'jobs', routingKey: 'jobs' }], defaultQueue: 'jobs' },
    });
    try {
      app.task('math.add', async (a: number, b: number) => a + b);
      await app.startWorker({ concurrency: 1 });
      expect(await (await app.sendTask<number>('math.add', [2, 3])).get({ timeout: 5000 })).toBe(5);
    } finally {
      await app.close();
      resetMemoryBroker('definitions-object');
    }
    const bad = createApp({ logger: silent, definitions: { broker: { url }, queues: [{ name: 'jobs', exchange: 'nowhere' }], defaultQueue: 'jobs' } });
    await expect(bad.sendTask('math.add', [1, 2])).rejects.toThrow(/createApp\(\{ definitions \}\): .*nowhere/);
    await bad.close();
  });

  test('excludeQueues (-X): every declared queue but those, or -Q less those; nothing left or an undeclared one is refused before anything is consumed', async () => {
    const extra = { queues: [{ name: 'jobs', exchange: 'jobs', routingKey: 'jobs' }, { name: 'mail', exchange: 'jobs', routingKey: 'mail' }, { name: 'bulk', exchange: 'jobs', routingKey: 'bulk' }] };
    const env = memoryApp({ extra });
    try {
      await expect(env.app.startWorker({ queues: ['mail'], excludeQueues: ['mail'] })).rejects.toThrow('no queue is left to consume: the worker would consume mail, and excludes mail');
      await expect(env.app.startWorker({ excludeQueues: ['nope'] })).rejects.toThrow('excludeQueues (-X): unknown queue "nope" (declared queues: jobs, mail, bulk)');
      expect(env.broker.queue('mail')?.consumerCount ?? 0).toBe(0);
      const worker = await env.app.startWorker({ excludeQueues: ['bulk'] });
      expect(worker.queues.map((q) => q.name)).toEqual(['jobs', 'mail']);
      expect(env.broker.queue('bulk')?.consumerCount ?? 0).toBe(0);
    } finally {
      await env.close();
    }
  });

  test('the README example: with the repository\'s definitions, deal1 runs on a for_task1 worker and deal2 waits in for_task2', async () => {
    const app = createApp({ definitions: join(__dirname, '..', '..', '..', 'definitions'), logger: silent });
    app.task('app1.tasks1.deal1', async (text: string) => `${text}=======`);
    app.task('app1.tasks2.deal2', async (text: string) => `${text}+++++++++`);
    app.configure({ brokerUrl: 'memory://readme' });
    try {
      await app.startWorker({ queues: ['for_task1'], concurrency: 1 });
      const result = await app.sendTask('app1.tasks1.deal1', ['text0']);
      expect(await result.get({ timeout: 5000 })).toBe('text0=======');
      await app.sendTask('app1.tasks2.deal2', ['x'], {}, { ignoreResult: true });
      expect(memoryBroker('readme').queue('for_task2')?.messageCount).toBe(1);
    } finally {
      await app.close();
      resetMemoryBroker('readme');
    }
  });

});
