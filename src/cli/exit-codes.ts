import {
  AppLoadError,
  BrokerUnavailableError,
  DefinitionsError,
  UnknownQueueError,
  UsageError,
  WarrenError,
} from '../errors';

/** Process exit codes of the `warren` command. */
export const ExitCode = {
  ok: 0,
  /** A task failed, the broker is unreachable, or something unexpected broke. */
  failure: 1,
  /** The command line or the definitions are invalid: nothing was declared or sent. */
  invalidInput: 2,
} as const;

const BROKER_HINT =
  'Is RabbitMQ running? Start one with `rabbitmq-server -detached` (Debian package rabbitmq-server),\n' +
  'or `docker compose -f rabbitmq/docker-compose.yml up -d`, or point --broker / WARREN_BROKER_URL at yours.';

/** Prints an error the way a person should read it and returns the exit code it maps to. */
export function reportError(err: unknown, write: (text: string) => void): number {
  if (err instanceof DefinitionsError || err instanceof UnknownQueueError || err instanceof UsageError || err instanceof AppLoadError) {
    write(`warren: ${err.message}\n`);
    if (err instanceof AppLoadError && err.cause instanceof Error) write(`  caused by: ${err.cause.stack ?? err.cause.message}\n`);
    return ExitCode.invalidInput;
  }
  if (err instanceof BrokerUnavailableError) {
    write(`warren: ${err.message}\n${BROKER_HINT}\n`);
    return ExitCode.failure;
  }
  if (err instanceof WarrenError) {
    write(`warren: ${err.code}: ${err.message}\n`);
    return ExitCode.failure;
  }
  write(`warren: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return ExitCode.failure;
}
