import { handlerArguments, type TaskContext, type TaskOptions } from '../../../src/worker';

const ctx = { taskId: 'id-1' } as TaskContext;
const task = (options: TaskOptions) => ({ name: 'math.add', options });

describe('handlerArguments: the context has one place whatever the message carries', () => {
  test('unbound: the args only; kwargs, when there are any, as one trailing object', () => {
    expect(handlerArguments(task({}), [1, 2], {}, ctx)).toEqual([1, 2]);
    expect(handlerArguments(task({}), [1, 2], { k: 3 }, ctx)).toEqual([1, 2, { k: 3 }]);
    expect(handlerArguments(task({}), [], {}, ctx)).toEqual([]);
  });

  test('bound: the context first, however many args and kwargs came (a missing arg never moves it)', () => {
    expect(handlerArguments(task({ bind: true }), [1, 2], {}, ctx)).toEqual([ctx, 1, 2]);
    expect(handlerArguments(task({ bind: true }), [1], {}, ctx)).toEqual([ctx, 1]);
    expect(handlerArguments(task({ bind: true }), [1, 2], { k: 3 }, ctx)).toEqual([ctx, 1, 2, { k: 3 }]);
  });

  test('params: kwargs placed by name, Python-style; gaps stay undefined', () => {
    const add = task({ params: ['a', 'b', 'c'] });
    expect(handlerArguments(add, [1], { b: 2 }, ctx)).toEqual([1, 2]);
    expect(handlerArguments(add, [], { c: 3, a: 1 }, ctx)).toEqual([1, undefined, 3]);
    expect(handlerArguments({ ...add, options: { ...add.options, bind: true } }, [1], { c: 3 }, ctx)).toEqual([ctx, 1, undefined, 3]);
  });

  test('params: an unknown or duplicate name is a TypeError that names it', () => {
    const add = task({ params: ['a', 'b'] });
    expect(() => handlerArguments(add, [1], { z: 2 }, ctx)).toThrow(new TypeError("math.add() got an unexpected keyword argument 'z'"));
    expect(() => handlerArguments(add, [1], { a: 2 }, ctx)).toThrow(new TypeError("math.add() got multiple values for argument 'a'"));
  });
});
