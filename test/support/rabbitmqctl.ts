import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Set by `npm test` and `npm run test:faults`: the run may restart the test broker. */
export const RESTARTS_ALLOWED = 'WARREN_TEST_BROKER_RESTARTS';

/**
 * Runs `rabbitmqctl` on the test broker's node: the machine's own, or the node that
 * `RABBITMQ_NODENAME` names. Restarting a broker (or closing all its connections) breaks every
 * other test run on it, so this refuses unless the run was started by `npm test` or
 * `npm run test:faults`, which set WARREN_TEST_BROKER_RESTARTS=1; a bare `npx jest` that
 * happens to select such a suite fails loudly instead of disturbing a shared broker.
 */
export async function rabbitmqctl(...args: string[]): Promise<void> {
  assertRestartsAllowed(`\`rabbitmqctl ${args.join(' ')}\``);
  await run('rabbitmqctl', args, { timeout: 60_000 });
}

/**
 * Throws unless the run may restart the broker; a suite that restarts it calls this in its
 * first `beforeAll`, so it fails before it starts anything (workers, apps) it would leave behind.
 */
export function assertRestartsAllowed(what = 'this suite'): void {
  if (process.env[RESTARTS_ALLOWED] === '1') return;
  throw new Error(
    `${what} restarts the broker or closes its connections, which disturbs everyone using it; ` +
      `run it through \`npm test\` or \`npm run test:faults\` (they set ${RESTARTS_ALLOWED}=1), ` +
      'or against a private node (see docs/fault-tests-and-figures.md)',
  );
}

/** Makes sure the broker serves again, whatever a test left it in (nothing to do in a run that may not restart it). */
export async function brokerUp(): Promise<void> {
  if (process.env[RESTARTS_ALLOWED] !== '1') return;
  await rabbitmqctl('start_app').catch(() => undefined);
  await rabbitmqctl('await_startup');
}
