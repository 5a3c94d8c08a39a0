import { checkQueueNames } from '../../../src/config';
import { UnknownQueueError } from '../../../src/errors';
import { example, resolveOne } from './problems';

describe('checkQueueNames', () => {
  const definitions = resolveOne(example());

  test('returns the declared queues named, in the order given', () => {
    expect(checkQueueNames(definitions, ['for_task2', 'default'], '-Q').map((queue) => [queue.name, queue.type])).toEqual([
      ['for_task2', 'quorum'],
      ['default', 'classic'],
    ]);
  });

  test('throws UnknownQueueError for an undeclared name, listing the declared queues', () => {
    let thrown: unknown;
    try {
      checkQueueNames(definitions, ['for_task1', 'for_task9'], '-Q');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(UnknownQueueError);
    const error = thrown as UnknownQueueError;
    expect(error.code).toBe('WARREN_UNKNOWN_QUEUE');
    expect(error.queue).toBe('for_task9');
    expect(error.declared).toEqual(['default', 'for_task1', 'for_task2']);
    expect(error.message).toBe('-Q: unknown queue "for_task9" (declared queues: default, for_task1, for_task2)');
  });
});
