import { formatLogRecord } from '../../../src/logging/pretty-format';

const at = (time: Date): string => time.toISOString().slice(11, 23);
const format = (record: Record<string, unknown>, colors = false): string => formatLogRecord(JSON.stringify(record), { formatTime: at, colors });

describe('formatLogRecord', () => {
  test('time, level, component, message, then the other fields as key=value', () => {
    expect(
      format({
        level: 30,
        time: Date.UTC(2026, 10, 29, 14, 3, 7, 412),
        name: 'warren',
        component: 'worker',
        hostname: 'w1@host',
        queues: ['for_task1', 'for_task2'],
        concurrency: 8,
        msg: 'worker ready',
      }),
    ).toBe('14:03:07.412 INFO  [worker] worker ready hostname=w1@host queues=for_task1,for_task2 concurrency=8\n');
  });

  test('quotes strings with spaces, and writes objects and empty lists as JSON', () => {
    expect(format({ level: 40, time: 0, msg: 'm', reason: 'not a task', args: { a: [1] }, queues: [], ok: false, none: null })).toBe(
      '00:00:00.000 WARN  m reason="not a task" args={"a":[1]} queues=[] ok=false none=null\n',
    );
  });

  test('rounds fractions to three decimals', () => {
    expect(format({ level: 30, time: 0, msg: 'task succeeded', runtimeMs: 0.45144206, count: 3 })).toBe('00:00:00.000 INFO  task succeeded runtimeMs=0.451 count=3\n');
  });

  test('an error: its type, code and message on the line, its stack indented below', () => {
    const err = { type: 'TopologyMismatchError', code: 'WARREN_TOPOLOGY_MISMATCH', message: 'queue "q" differs', stack: 'TopologyMismatchError: queue "q" differs\n    at a (x.js:1:1)\n  at b (y.js:2:2)' };
    expect(format({ level: 50, time: 0, component: 'worker', msg: 'declare failed', err, queue: 'q' })).toBe(
      '00:00:00.000 ERROR [worker] declare failed err="TopologyMismatchError [WARREN_TOPOLOGY_MISMATCH]: queue \\"q\\" differs" queue=q\n' +
        '    at a (x.js:1:1)\n    at b (y.js:2:2)\n',
    );
    expect(format({ level: 50, time: 0, msg: 'consume failing', err: 'channel closed' })).toBe('00:00:00.000 ERROR consume failing err="channel closed"\n');
  });

  test('keeps a logger name other than warren', () => {
    expect(format({ level: 20, time: 0, name: 'shop', msg: 'x' })).toBe('00:00:00.000 DEBUG x name=shop\n');
  });

  test('colours the level, the component and the keys only when asked', () => {
    const line = format({ level: 50, time: 0, component: 'beat', msg: 'x', n: 1 }, true);
    expect(line).toBe('\u001b[2m00:00:00.000\u001b[0m \u001b[31mERROR\u001b[0m \u001b[36m[beat]\u001b[0m x \u001b[2mn=\u001b[0m1\n');
  });

  test('passes a line that is not JSON through', () => {
    expect(formatLogRecord('plain text\n')).toBe('plain text\n');
  });
});
