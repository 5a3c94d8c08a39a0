/**
 * Compile-time checks of typed tasks: every `@ts-expect-error` line must be an error, and
 * every other line must compile. Checked by `tsc --noEmit` (test/unit/app/task-handle-types.test.ts,
 * and `npx tsc -p tsconfig.json --noEmit` for the whole project). Never run.
 */
import { createApp, type AsyncResult, type GroupResult, type Signature, type TaskContext } from '../../src';

const app = createApp();

export async function typedTasks(): Promise<void> {
  // Unbound: the handler's parameters are the task's arguments.
  const add = app.task('math.add', async (a: number, b: number) => a + b);
  const sum: AsyncResult<number> = await add.send(2, 3);
  const value: number = await sum.get({ timeout: 1000 });
  await add.apply([2, 3], { countdown: 10, queue: 'math' });
  // @ts-expect-error a string where a number is expected
  await add.send(2, '3');
  // @ts-expect-error one argument missing
  await add.send(2);
  // @ts-expect-error one argument too many
  await add.send(2, 3, 4);
  // @ts-expect-error apply takes the arguments as a tuple
  await add.apply([2, 'x']);
  // @ts-expect-error the result is a number, not a string
  const wrong: AsyncResult<string> = await add.send(1, 2);

  // Bound: the context comes first, typed without an annotation; it is not a task argument.
  const charge = app.task('shop.charge', async (ctx, amount: number, currency: string) => `${ctx.taskId}:${amount}${currency}`, { bind: true });
  const charged: AsyncResult<string> = await charge.send(10, 'EUR');
  // @ts-expect-error the context is not passed by the caller
  await charge.send({} as TaskContext, 10, 'EUR');
  // @ts-expect-error bind: true needs a handler that takes the context first
  app.task('shop.refund', async (amount: number) => amount, { bind: true });

  // No arguments, a synchronous handler, optional parameters.
  const ping = app.task('ping', () => 'pong');
  const pong: AsyncResult<string> = await ping.send();
  // @ts-expect-error ping takes no argument
  await ping.send(1);
  const greet = app.task('greet', (name: string, punctuation?: string) => `hello ${name}${punctuation ?? ''}`);
  await greet.send('ada');
  await greet.send('ada', '!');

  // Signatures: .s() takes all the arguments, or all but the first (a chain's previous result).
  const whole: Signature<number> = add.s(2, 3);
  const partial: Signature<number> = add.s(10);
  const fixed: Signature<number> = add.si(1, 1);
  // @ts-expect-error .si() takes every argument: it gets no previous result
  add.si(1);
  // @ts-expect-error a string where a number is expected
  add.s('10');
  const chained: AsyncResult<number> = await app.chain<number>(whole, partial, fixed).apply();
  const grouped: GroupResult<[number, number]> = await app.group<[number, number]>(add.s(1, 1), add.s(2, 2)).apply();
  const listed: [number, number] = await grouped.get({ timeout: 1000 });
  const chorded: AsyncResult<number> = await app.chord<number>([add.s(1, 1), add.s(2, 2)], app.signature<number>('math.sum')).apply();
  // @ts-expect-error an unknown option
  add.s(1, 2).set({ countDown: 5 });

  void [value, wrong, charged, pong, chained, listed, chorded];
}
