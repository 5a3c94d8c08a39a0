import { MetricsError } from '../../../src/errors';
import { memoryApp, type MemoryApp } from '../../support/memory-app';

let env: MemoryApp;

afterEach(async () => {
  await env?.close();
});

async function scrape(url: string): Promise<string> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toContain('text/plain');
  return response.text();
}

/** The value of one sample line, e.g. `warren_tasks_total{task="math.add",outcome="succeeded"}`. */
function sample(text: string, line: string): number | undefined {
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}

describe('worker metrics (prom-client, memory://)', () => {
  test('tasks by name and outcome, runtimes, active and prefetched, connection, confirm latency, events dropped', async () => {
    env = memoryApp();
    env.app.task('math.add', async (a: number, b: number) => a + b);
    env.app.task('boom', async () => {
      throw new Error('no');
    });
    const worker = await env.app.startWorker({ queues: ['jobs'], concurrency: 1, metricsPort: 0 });
    expect(worker.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    await (await env.app.sendTask('math.add', [1, 2])).get({ timeout: 2000 });
    await (await env.app.sendTask('math.add', [3, 4])).get({ timeout: 2000 });
    await (await env.app.sendTask('boom')).get({ timeout: 2000 }).catch(() => undefined);
    const text = await scrape(worker.metricsUrl!);
    expect(sample(text, 'warren_tasks_received_total{task="math.add"}')).toBe(2);
    expect(sample(text, 'warren_tasks_total{task="math.add",outcome="succeeded"}')).toBe(2);
    expect(sample(text, 'warren_tasks_total{task="boom",outcome="failed"}')).toBe(1);
    expect(sample(text, 'warren_task_runtime_seconds_count{task="math.add"}')).toBe(2);
    expect(sample(text, 'warren_tasks_active')).toBe(0);
    expect(sample(text, 'warren_tasks_prefetched')).toBe(0);
    expect(sample(text, 'warren_broker_connected')).toBe(1);
    expect(sample(text, 'warren_broker_reconnects_total')).toBe(0);
    expect(sample(text, 'warren_publish_confirm_seconds_count{outcome="confirmed"}')).toBeGreaterThanOrEqual(3);
    expect(sample(text, 'warren_events_dropped_total')).toBe(0);
    expect(text).toContain('process_cpu_user_seconds_total');
    expect((await fetch(worker.metricsUrl!.replace('/metrics', '/'))).status).toBe(404);
  });

  test('a port in use is refused before the worker consumes anything', async () => {
    env = memoryApp();
    const first = await env.app.startWorker({ queues: ['jobs'], concurrency: 1, metricsPort: 0, hostname: 'a@test' });
    const port = Number(new URL(first.metricsUrl!).port);
    const error = await env.app.startWorker({ queues: ['jobs'], concurrency: 1, metricsPort: port, hostname: 'b@test' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MetricsError);
    expect((error as Error).message).toMatch(new RegExp(`^the metrics server cannot listen on 127\\.0\\.0\\.1:${port}: listen EADDRINUSE`));
    expect(env.broker.queue('jobs')?.consumerCount).toBe(1);
  });
});
