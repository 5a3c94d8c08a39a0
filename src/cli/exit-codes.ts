import {
  AppLoadError,
  BrokerUnavailableError,
  DefinitionsError,
  RouteNotFoundError,
  TopologyMismatchError,
  UnknownQueueError,
  UsageError,
  WarrenError,
  type ConnectCause,
} from '../errors';

/** Process exit codes of the `warren` command. */
export const ExitCode = {
  ok: 0,
  /** A task failed, the broker is unreachable, or something unexpected broke. */
  failure: 1,
  /** The command line or the definitions are invalid: nothing was declared or sent. */
  invalidInput: 2,
} as const;

const NOT_RUNNING_HINT =
  'Is RabbitMQ running? Start one with `rabbitmq-server -detached` (Debian package rabbitmq-server),\n' +
  'or `docker compose -f rabbitmq/docker-compose.yml up -d`, or point --broker / WARREN_BROKER_URL at yours.';

/** What to try, for each reason a connect attempt failed; printed once per reason met. */
const CONNECT_HINTS: Readonly<Record<ConnectCause, string>> = {
  refused: NOT_RUNNING_HINT,
  unreachable: NOT_RUNNING_HINT,
  timeout:
    'Something took the connection but never answered as an AMQP broker: check the host and port\n' +
    '(5672 for amqp://, 5671 for amqps://) and any proxy or firewall on the way.',
  auth:
    'Check the user name and password in the broker URL (--broker, WARREN_BROKER_URL or broker.url);\n' +
    'on the broker host, `rabbitmqctl authenticate_user <user> <password>` tests them.',
  vhost:
    'Check the virtual host at the end of the broker URL: amqp://host:5672/ is the default vhost "/",\n' +
    'amqp://host:5672/prod is "prod" (%2F encodes a slash). `rabbitmqctl list_vhosts` shows those that exist,\n' +
    '`rabbitmqctl list_user_permissions <user>` those the user may use.',
  tls:
    'amqps:// speaks TLS (port 5671 by default) and amqp:// does not: check the scheme and port, and that the\n' +
    "broker's certificate is one this machine trusts (NODE_EXTRA_CA_CERTS adds a CA).",
  closed: "The connection closed during the handshake: check that the port is the broker's AMQP port.",
  other: '',
};

/** The hints for a failed connect: one per distinct reason its attempts failed for. */
function brokerHints(err: BrokerUnavailableError): string {
  return [...new Set(err.attempts.map((a) => CONNECT_HINTS[a.cause]))]
    .filter((hint) => hint !== '')
    .map((hint) => `${hint}\n`)
    .join('');
}

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

/** Thrown by a command that has said what went wrong itself: the process exits with `exitCode`, and nothing more is printed. */
export class CommandExit extends Error {
  override name = 'CommandExit';

  constructor(readonly exitCode: number) {
    super(`exit ${exitCode}`);
  }
}

/** Prints an error the way a person should read it and returns the exit code it maps to. */
export function reportError(err: unknown, write: (text: string) => void): number {
  if (err instanceof CommandExit) return err.exitCode;
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
    write(`warren: ${err.code}: ${err.message}\n${brokerHints(err)}`);
    return ExitCode.failure;
  }
  if (err instanceof WarrenError) {
    write(`warren: ${err.code}: ${err.message}\n`);
    return ExitCode.failure;
  }
  write(`warren: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return ExitCode.failure;
}
