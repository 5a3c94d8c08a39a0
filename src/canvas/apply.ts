import type { Frozen, WireOptions } from './canvas-runtime';
import type { AnySignature } from './signature';

/**
 * A copy of `signature` with `options` merged in, its ids given before anything is sent, so a
 * caller follows every result before the first message goes out (a fast worker's result must
 * find its listener). A group gets ids only, as `group.apply_async` sends it; the rest are
 * frozen, as Celery freezes them when it applies them.
 */
export function prepareApply(signature: AnySignature, options?: WireOptions): { copy: AnySignature; frozen: Frozen } {
  const copy = signature.clone(undefined, undefined, options);
  return { copy, frozen: copy.freezeForApply() };
}
