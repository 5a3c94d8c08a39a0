import {
  AppLoadError,
  BrokerUnavailableError,
  DefinitionsError,
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

/** Prints an error the way a person should read it and returns the exit code it maps to. */
export function reportError(err: unknown, write: (text: string) => void): number {
  if (err instanceof DefinitionsError || err instanceof UnknownQueueError || err instanceof UsageError || err instanceof AppLoadError) {
    write(`warren: ${err.message}\n`);
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
