import type { Logger } from './logger';

/**
 * Logs a repeating failure at error level when it is new (another message), and at most once
 * a minute while it stays the same, so a worker that cannot recover is loud but not a flood.
 */
export class RateLimitedLog {
  private last: string | undefined;
  private at = 0;

  constructor(private readonly logger: Logger) {}

  error(fields: { err: string } & Record<string, unknown>, message: string): void {
    if (fields.err === this.last && Date.now() - this.at < 60_000) return;
    this.last = fields.err;
    this.at = Date.now();
    this.logger.error(fields, message);
  }
}
