/**
 * What a task in a pool process returned that JSON cannot carry: it cannot cross to the worker.
 * The worker records it as the async pool records such a result (`EncodeError`), where the task
 * wants a result.
 */
export class UnsendableResult {
  constructor(
    readonly reason: string,
    readonly taskName: string,
    readonly taskId: string,
  ) {}
}
