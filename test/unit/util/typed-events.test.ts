import { ListenerError } from '../../../src/errors';
import { TypedEvents } from '../../../src/util/typed-events';
import { captureLogger } from '../../support/capture-logger';

interface Events {
  done: { id: number };
  error: Error;
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('TypedEvents', () => {
  test('calls every listener in the order they were added', () => {
    const events = new TypedEvents<Events>();
    const calls: string[] = [];
    events.on('done', ({ id }) => calls.push(`a${id}`));
    events.on('done', ({ id }) => calls.push(`b${id}`));
    events.emit('done', { id: 1 });
    expect(calls).toEqual(['a1', 'b1']);
  });

  test('a throwing listener neither reaches the emitter nor stops the listeners after it; it is re-emitted as error', () => {
    const events = new TypedEvents<Events>();
    const calls: string[] = [];
    const errors: Error[] = [];
    events.on('done', () => {
      throw new TypeError('listener bug');
    });
    events.on('done', ({ id }) => calls.push(`after${id}`));
    events.on('error', (error) => errors.push(error));

    events.emit('done', { id: 7 });

    expect(calls).toEqual(['after7']);
    expect(errors).toHaveLength(1);
    const error = errors[0] as ListenerError;
    expect(error).toBeInstanceOf(ListenerError);
    expect(error.code).toBe('WARREN_LISTENER_ERROR');
    expect(error.event).toBe('done');
    expect(error.message).toBe('a listener of the "done" event threw: TypeError: listener bug');
    expect((error.cause as Error).message).toBe('listener bug');
  });

  test('the rejection of an async listener is caught and re-emitted as error', async () => {
    const events = new TypedEvents<Events>();
    const errors: Error[] = [];
    events.on('done', async () => {
      await tick();
      throw new Error('async listener bug');
    });
    events.on('error', (error) => errors.push(error));
    events.emit('done', { id: 1 });
    await tick();
    await tick();
    expect(errors.map((e) => e.message)).toEqual(['a listener of the "done" event threw: Error: async listener bug']);
  });

  test('with no error listener, a listener exception is logged with the event and the stack', () => {
    const { logger, lines } = captureLogger();
    const events = new TypedEvents<Events>({ logger });
    events.on('done', () => {
      throw new Error('nobody catches me');
    });
    events.emit('done', { id: 1 });
    const logged = lines().filter((line) => line.level === 50);
    expect(logged).toHaveLength(1);
    expect(logged[0].msg).toBe('a listener of the "done" event threw; it was ignored');
    expect(logged[0].event).toBe('done');
    expect(String(logged[0].err)).toContain('Error: nobody catches me');
  });

  test('an error listener that throws is logged, not re-emitted into itself', () => {
    const { logger, lines } = captureLogger();
    const events = new TypedEvents<Events>({ logger });
    let errorCalls = 0;
    events.on('done', () => {
      throw new Error('first');
    });
    events.on('error', () => {
      errorCalls += 1;
      throw new Error('second');
    });
    events.emit('done', { id: 1 });
    expect(errorCalls).toBe(1);
    expect(lines().map((line) => line.msg)).toEqual(['a listener of the "error" event threw; it was ignored']);
  });

  test('onListenerError replaces the log', () => {
    const { logger, lines } = captureLogger();
    const seen: ListenerError[] = [];
    const events = new TypedEvents<Events>({ logger, onListenerError: (error) => seen.push(error) });
    events.on('done', () => {
      throw 'a string';
    });
    events.emit('done', { id: 1 });
    expect(seen.map((e) => e.message)).toEqual(['a listener of the "done" event threw: a string']);
    expect(lines()).toEqual([]);
  });

  test('an error emitted by the owner with no listener does not throw', () => {
    const events = new TypedEvents<Events>();
    expect(() => events.emit('error', new Error('owner failure'))).not.toThrow();
    expect(events.listenerCount('error')).toBe(0);
  });

  test('works for an event map without an error event: the exception is logged', () => {
    const { logger, lines } = captureLogger();
    const events = new TypedEvents<{ done: number }>({ logger });
    const seen: number[] = [];
    events.on('done', () => {
      throw new Error('boom');
    });
    events.on('done', (n) => seen.push(n));
    events.emit('done', 3);
    expect(seen).toEqual([3]);
    expect(lines()).toHaveLength(1);
  });

  test('off removes a listener; a listener removed during an emit still runs in that emit', () => {
    const events = new TypedEvents<Events>();
    const calls: string[] = [];
    const second = () => calls.push('second');
    events.on('done', () => {
      calls.push('first');
      events.off('done', second);
    });
    events.on('done', second);
    events.emit('done', { id: 1 });
    events.emit('done', { id: 2 });
    expect(calls).toEqual(['first', 'second', 'first']);
  });
});
