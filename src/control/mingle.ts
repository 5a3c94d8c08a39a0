import type { Logger } from '../logging/logger';
import type { ControlClient } from './control-client';
import type { LamportClock } from './lamport-clock';
import type { RevokedIds } from './revoked-ids';

/** Celery's mingle timeout: how long a starting worker waits for its neighbours' replies. */
export const MINGLE_TIMEOUT_MS = 1000;

/**
 * Celery's mingle: before it consumes, a starting worker sends `hello` (with its own revoked
 * ids) to every node and takes in the revoked ids and clocks they reply with, so a task revoked
 * before it started is not run by it. A request no node queue receives comes back at once
 * (`mandatory`): then it is alone and waits for nothing; else it waits a second, as Celery. A
 * failure is logged and the worker starts anyway. Returns the number of nodes that replied.
 */
export async function mingle(client: ControlClient, hostname: string, revoked: RevokedIds, clock: LamportClock, logger: Logger, timeoutMs = MINGLE_TIMEOUT_MS): Promise<number> {
  const log = logger.child({ component: 'mingle' });
  log.info('mingle: searching for neighbors');
  let replies;
  try {
    replies = await client.broadcast('hello', {
      arguments: { from_node: hostname, revoked: revoked.toMingle() },
      reply: true,
      timeoutMs,
      returnWhenAlone: true,
    });
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'mingle: could not ask the other nodes; starting without their revoked ids');
    return 0;
  }
  let nodes = 0;
  let taken = 0;
  for (const reply of replies) {
    for (const [node, value] of Object.entries(reply)) {
      if (node === hostname || typeof value !== 'object' || value === null) continue;
      nodes += 1;
      const { clock: theirs, revoked: theirRevoked } = value as { clock?: unknown; revoked?: unknown };
      if (theirs !== undefined) clock.adjust(theirs);
      else clock.forward();
      taken += revoked.update(theirRevoked);
    }
  }
  if (nodes === 0) log.info('mingle: all alone');
  else log.info({ nodes, revoked: taken }, `mingle: sync with ${nodes} node${nodes === 1 ? '' : 's'}`);
  return nodes;
}
