import { until } from '../../support/memory';
import { memoryApp } from '../../support/memory-app';

describe('app on memory://', () => {
  test('sendTask reaches a worker and its result reaches the caller', async () => {
    const { app, broker, close } = memoryApp();
    try {
      app.task('math.add', async (a: number, b: number) => a + b);
      await app.startWorker({ queues: ['jobs'] });
      const result = await app.sendTask<number>('math.add', [2, 3]);
      expect(await result.get({ timeout: 2000 })).toBe(5);
      expect(result.state).toBe('SUCCESS');
      await until(() => broker.queue('jobs')?.unackedCount === 0, 'the ack');
      expect(broker.queue('jobs')).toMatchObject({ messageCount: 0, unackedCount: 0, consumerCount: 1 });
    } finally {
      await close();
    }
  });
});
