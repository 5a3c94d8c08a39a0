import type { AnySignature } from './signature';

/**
 * How many completions a signature adds to a chord it is a header part of (Celery's
 * `chord._descend`): a task 1, a group the sum of its tasks, a chain its last non-empty
 * element's, a chord its body's.
 */
export function chordSize(signature: AnySignature): number {
  const kwargs = signature.kwargs as { tasks?: AnySignature[]; body?: AnySignature };
  switch (signature.subtaskType) {
    case 'group':
      return (kwargs.tasks ?? []).reduce((sum, task) => sum + chordSize(task), 0);
    case 'chain':
      for (const task of [...(kwargs.tasks ?? [])].reverse()) {
        const size = chordSize(task);
        if (size > 0) return size;
      }
      return 0;
    case 'chord':
      return kwargs.body ? chordSize(kwargs.body) : 0;
    default:
      return 1;
  }
}
