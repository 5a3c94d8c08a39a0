import pino from 'pino';
import { TaskLog } from '../../../src/worker/task-log';

function capture(level: pino.Level = 'info'): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ name: 'warren', level, base: { pid: 1 }, timestamp: false }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger: logger.child({ component: 'worker' }), lines };
}

const fields = { queue: 'q1', task: 'x.add', taskId: 'id-1' };

describe('TaskLog', () => {
  it('writes the success line with the task fields, as the task logger would, without making one', () => {
    const { logger, lines } = capture();
    const child = jest.spyOn(logger, 'child');
    new TaskLog(logger, fields).succeeded(1.5);
    logger.child(fields).info({ state: 'SUCCESS', runtimeMs: 1.5 }, 'task succeeded');
    expect(child).toHaveBeenCalledTimes(1);
    expect(lines).toHaveLength(2);
    expect(JSON.stringify(lines[0])).toBe(JSON.stringify(lines[1]));
    expect(lines[0]).toMatchObject({ component: 'worker', queue: 'q1', task: 'x.add', taskId: 'id-1', state: 'SUCCESS', runtimeMs: 1.5, msg: 'task succeeded' });
  });

  it('makes the task logger once, when first read, and writes the success line through it then', () => {
    const { logger, lines } = capture();
    const log = new TaskLog(logger, fields);
    expect(log.logger).toBe(log.logger);
    log.logger.level = 'warn';
    log.succeeded(2);
    expect(lines).toEqual([]);
    log.logger.warn('late');
    expect(lines[0]).toMatchObject({ queue: 'q1', taskId: 'id-1', msg: 'late' });
  });

  it('writes nothing below the level', () => {
    const { logger, lines } = capture('warn');
    new TaskLog(logger, fields).succeeded(1);
    expect(lines).toEqual([]);
  });
});

describe('TaskLog.debug', () => {
  it('makes no task logger below debug, and writes the line with the task fields at debug', () => {
    const quiet = capture('info');
    const child = jest.spyOn(quiet.logger, 'child');
    new TaskLog(quiet.logger, fields).debug('task started');
    expect(child).not.toHaveBeenCalled();
    expect(quiet.lines).toEqual([]);
    const loud = capture('debug');
    new TaskLog(loud.logger, fields).debug('task handed to a pool process', { pid: 7 });
    expect(loud.lines[0]).toMatchObject({ queue: 'q1', task: 'x.add', taskId: 'id-1', pid: 7, msg: 'task handed to a pool process' });
  });
});
