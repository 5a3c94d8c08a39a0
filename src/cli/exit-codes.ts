import {
  AppLoadError,
  BrokerUnavailableError,
  DefinitionsError,
  RouteNotFoundError,
  TopologyMismatchError,
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

/** What to do about a queue or exchange the broker already holds with other settings (406). */
export function topologyMismatchHint(err: TopologyMismatchError): string {
  const list =
    err.kind === 'queue' ? 'rabbitmqctl list_queues name durable auto_delete arguments' : 'rabbitmqctl list_exchanges name type durable auto_delete arguments';
  const remove =
    err.kind === 'queue'
      ? `\`rabbitmqctl delete_queue ${err.objectName}\` (its messages go with it)`
      : `the management UI, or \`rabbitmqadmin delete exchange name=${err.objectName}\``;
  return (
    `The broker keeps ${err.kind} "${err.objectName}" as it is; warren neither changes nor deletes it. Either\n` +
    `  - declare it in the definitions exactly as the broker has it (\`${list}\` shows it),\n` +
    '  - give yours another name, or use a virtual host of your own (the path of the broker URL: amqp://host:5672/myvhost),\n' +
    `  - or, if nothing else uses it, delete it on the broker: ${remove}.`
  );
}

/** Prints an error the way a person should read it and returns the exit code it maps to. */
export function reportError(err: unknown, write: (text: string) => void): number {
  if (err instanceof TopologyMismatchError) {
    write(`warren: ${err.code}: ${err.message}\n${topologyMismatchHint(err)}\n`);
    return ExitCode.failure;
  }
  if (
    err instanceof DefinitionsError ||
    err instanceof UnknownQueueError ||
    err instanceof RouteNotFoundError ||
    err instanceof UsageError ||
    err instanceof AppLoadError
  ) {
    write(`warren: ${err.message}\n`);
    // The stack says where in the user's module the load failed (a syntax error, a throw at the top level).
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
