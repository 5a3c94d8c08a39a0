import { WarrenError } from '../../errors';

/**
 * A schedule store could not be read or written: a state file that is not warren's JSON, a
 * lock file held too long, a database that refused a query. The message names the file or
 * the database (password masked).
 */
export class ScheduleStoreError extends WarrenError {
  constructor(message: string, cause?: unknown) {
    super('WARREN_SCHEDULE_STORE', message, { cause });
  }
}
