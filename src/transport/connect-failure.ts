import {
  BrokerAuthError,
  BrokerTlsError,
  BrokerUnavailableError,
  BrokerVhostError,
  type ConnectAttempt,
  type ConnectCause,
} from '../errors';
import { maskUrl } from '../util/mask-url';

/*
 * How a connect attempt fails, and how each failure is told apart.
 *
 * Socket and TLS failures carry Node's `code` (ECONNREFUSED, ENOTFOUND, ERR_SSL_..., CERT_...):
 * those are classified by code.
 *
 * AMQP refusals during the handshake carry no code: amqplib 2.x reports them as plain errors
 * whose text is the only record of what the broker said. They are recognised here, in this one
 * place, by the texts amqplib 2.3.1 gives with RabbitMQ 3.10 (copied verbatim into the unit
 * test); a text amqplib changes falls through to `other`, reported with its own words, never to
 * another cause:
 * - `Handshake terminated by server: 403 (ACCESS-REFUSED) with message "ACCESS_REFUSED - Login
 *   was refused using authentication mechanism PLAIN. For details see the broker logfile."`:
 *   the broker closed the connection in answer to the credentials;
 * - `Expected ConnectionOpenOk; got <ConnectionClose channel:0>`: the broker closed the
 *   connection in answer to connection.open, which names the virtual host (RabbitMQ's
 *   530 NOT_ALLOWED: no such vhost, or no access to it; amqplib drops the code and text);
 * - `connect ETIMEDOUT`: amqplib's own socket timeout (the `timeout` socket option) fired
 *   before the handshake finished;
 * - `Socket closed abruptly during opening handshake`: the peer closed the connection.
 */

const UNREACHABLE: Readonly<Record<string, string>> = {
  EHOSTUNREACH: 'host unreachable',
  EHOSTDOWN: 'host down',
  ENETUNREACH: 'network unreachable',
  ENETDOWN: 'network down',
  ENOTFOUND: 'unknown host',
  EAI_NONAME: 'unknown host',
  EAI_AGAIN: 'the host name could not be resolved now (DNS did not answer)',
  EAI_FAIL: 'the host name could not be resolved (DNS failure)',
};

const CLOSED_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

/** Certificate problems OpenSSL reports by code; any other code on an amqps:// URL is a TLS handshake failure. */
const CERTIFICATE = /^(CERT_|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|UNABLE_TO_|ERR_TLS_CERT_ALTNAME_INVALID$|HOSTNAME_MISMATCH$|INVALID_CA$|INVALID_PURPOSE$)/;

const HANDSHAKE_TERMINATED = /^Handshake terminated by server: (\d+) \(([A-Z_-]+)\)(?: with message "(.*)")?$/s;
const OPEN_REFUSED = /^Expected ConnectionOpenOk; got <ConnectionClose\b/;
const AMQPLIB_TIMEOUT = 'connect ETIMEDOUT';
const AMQPLIB_ABRUPT_CLOSE = 'Socket closed abruptly during opening handshake';

/**
 * What one failed connect attempt to `url` was, in the user's words.
 * @param handshakeTimeoutMs - the bound the attempt had, for the text of a timeout
 */
export function describeConnectFailure(error: unknown, url: string, handshakeTimeoutMs: number): ConnectAttempt {
  const broker = maskUrl(url);
  const { cause, reason } = classify(error, url, handshakeTimeoutMs);
  return { broker, cause, reason };
}

function classify(error: unknown, url: string, handshakeTimeoutMs: number): { cause: ConnectCause; reason: string } {
  const message = messageOf(error);
  const code = errorCode(error);
  const { host, port, user, vhost, tls } = parts(url);
  if (code === 'ECONNREFUSED') return { cause: 'refused', reason: `connection refused (ECONNREFUSED): nothing listens at ${host}:${port}` };
  if (code !== undefined && code in UNREACHABLE) {
    return { cause: 'unreachable', reason: `${UNREACHABLE[code]} (${code}): ${host}` };
  }
  if (code === 'ETIMEDOUT' || (code === undefined && message === AMQPLIB_TIMEOUT)) {
    return {
      cause: 'timeout',
      reason: `no answer within ${handshakeTimeoutMs} ms (TCP connect and AMQP handshake timed out)`,
    };
  }
  if (code !== undefined && CLOSED_CODES.has(code)) return { cause: 'closed', reason: `the connection was reset during the handshake (${code})` };
  if (code !== undefined && CERTIFICATE.test(code)) return { cause: 'tls', reason: `TLS certificate not accepted (${code}: ${message})` };
  if (code !== undefined && tls) {
    const detail = (error as { reason?: unknown }).reason;
    return { cause: 'tls', reason: `TLS handshake failed (${code}: ${typeof detail === 'string' ? detail : message}): is it an amqps (TLS) port?` };
  }
  if (code === undefined) {
    const terminated = HANDSHAKE_TERMINATED.exec(message);
    if (terminated) {
      const [, replyCode, replyName, text] = terminated;
      const name = replyName.replace(/-/g, '_');
      // RabbitMQ starts its text with the name again: "ACCESS_REFUSED - Login was refused ...".
      const detail = text?.startsWith(`${name} - `) ? text.slice(name.length + 3) : text;
      const said = `${replyCode} ${name}${detail ? `: ${detail}` : ''}`;
      if (replyCode === '403') return { cause: 'auth', reason: `authentication refused for user "${user}" (${said})` };
      if (replyCode === '530') return { cause: 'vhost', reason: `virtual host "${vhost}" refused (${said})` };
      return { cause: 'other', reason: `the broker ended the handshake (${said})` };
    }
    if (OPEN_REFUSED.test(message)) {
      return {
        cause: 'vhost',
        reason: `virtual host "${vhost}" refused: it does not exist, or user "${user}" may not use it (the broker closed the connection at connection.open)`,
      };
    }
    if (message === AMQPLIB_ABRUPT_CLOSE) return { cause: 'closed', reason: 'the connection closed during the AMQP handshake: is it an AMQP port?' };
  }
  return { cause: 'other', reason: code === undefined || message.includes(code) ? message : `${message} (${code})` };
}

/** Read as a property: Node's own socket and TLS errors may come from another realm than `Error` (Jest's sandbox). */
function messageOf(error: unknown): string {
  const message = (error as { message?: unknown } | null | undefined)?.message;
  return typeof message === 'string' ? message : String(error);
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Host, port, user and vhost as amqplib reads them from the URL. */
function parts(url: string): { host: string; port: string; user: string; vhost: string; tls: boolean } {
  try {
    const parsed = new URL(url);
    const tls = parsed.protocol === 'amqps:';
    const path = decodeURIComponent(parsed.pathname.slice(1));
    return {
      host: parsed.hostname,
      port: parsed.port || (tls ? '5671' : '5672'),
      user: parsed.username ? decodeURIComponent(parsed.username) : 'guest',
      vhost: path === '' ? '/' : path,
      tls,
    };
  } catch {
    return { host: url, port: '', user: 'guest', vhost: '/', tls: false };
  }
}

/**
 * The error of a connect that failed at every address: a BrokerAuthError, BrokerVhostError or
 * BrokerTlsError when every address failed for that same reason, else a BrokerUnavailableError.
 * Its message names each address (password masked) and what happened there.
 * @param options.timedOutMs - set when the connect ran out of time before every address answered
 * @param options.trying - the address being tried when it ran out (no answer yet)
 * @param options.untried - the addresses it did not get to
 */
export function connectError(
  attempts: readonly ConnectAttempt[],
  options: { timedOutMs?: number; trying?: string; untried?: readonly string[] } = {},
): BrokerUnavailableError {
  const lines = [
    ...attempts.map((a) => ({ broker: a.broker, text: a.reason })),
    ...(options.trying === undefined ? [] : [{ broker: maskUrl(options.trying), text: `no answer yet (handshake still running)` }]),
    ...(options.untried ?? []).map((url) => ({ broker: maskUrl(url), text: 'not tried' })),
  ];
  const within = options.timedOutMs === undefined ? '' : ` within ${options.timedOutMs} ms`;
  const message =
    lines.length === 1
      ? `could not connect to the broker at ${lines[0].broker}${within}: ${lines[0].text}`
      : `could not connect to any of ${lines.length} broker addresses${within}: ${lines.map((l) => `${l.broker}: ${l.text}`).join('; ')}`;
  const causes = new Set(attempts.map((a) => a.cause));
  const only = lines.length === attempts.length && causes.size === 1 ? [...causes][0] : undefined;
  const Class = only === 'auth' ? BrokerAuthError : only === 'vhost' ? BrokerVhostError : only === 'tls' ? BrokerTlsError : BrokerUnavailableError;
  return new Class(message, undefined, attempts);
}
