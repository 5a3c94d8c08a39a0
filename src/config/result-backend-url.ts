/**
 * The result backend URL: where workers store task states and clients read them. Parsed here,
 * once, for the definitions' check and for the backend itself, so both refuse the same URLs
 * with the same words.
 */

/** One Redis node of a URL. */
export interface RedisNode {
  readonly host: string;
  readonly port: number;
}

/** Celery's `rpc://`: results travel back to the caller's reply queue on the broker. */
export interface RpcBackendUrl {
  readonly kind: 'rpc';
  /** As written, for logs. */
  readonly display: string;
}

/** `redis://`, `rediss://`, `redis+cluster://` or `rediss+cluster://`. */
export interface RedisBackendUrl {
  readonly kind: 'redis';
  /** The URL with its password masked, for logs and messages. */
  readonly display: string;
  /** `rediss`: TLS. */
  readonly tls: boolean;
  /** `+cluster`: a Redis Cluster; the nodes are where to start discovering it. */
  readonly cluster: boolean;
  /** One for a single server; one or more seeds for a cluster. */
  readonly nodes: readonly RedisNode[];
  /** The database number; always 0 on a cluster. */
  readonly db: number;
  readonly username?: string;
  readonly password?: string;
  /**
   * `?waitReplicas=N`: after each store, Redis's `WAIT N` on the node that took it, so a stored
   * result is on N replicas before the task's message is acked. 0: do not wait.
   */
  readonly waitReplicas: number;
  /** `?waitTimeoutMs=`: how long `WAIT` may take; fewer replicas by then is a failed store. */
  readonly waitTimeoutMs: number;
  /** `rediss://…?ssl_cert_reqs=CERT_NONE` (Celery's parameter) turns certificate checks off. */
  readonly rejectUnauthorized: boolean;
}

export type ResultBackendUrl = RpcBackendUrl | RedisBackendUrl;

/** The result backend when none is given: Celery's `rpc://`. */
export const DEFAULT_RESULT_BACKEND = 'rpc://';

export const RESULT_BACKEND_EXPECTED =
  'rpc://, redis://[:password@]host:port/db, rediss://..., or redis+cluster://host1:port,host2:port';

const SCHEMES: Readonly<Record<string, { tls: boolean; cluster: boolean }>> = {
  redis: { tls: false, cluster: false },
  rediss: { tls: true, cluster: false },
  'redis+cluster': { tls: false, cluster: true },
  'rediss+cluster': { tls: true, cluster: true },
};

/** How long `WAIT` may take when the URL asks for replicas and says no `waitTimeoutMs`. */
export const DEFAULT_WAIT_TIMEOUT_MS = 1000;

/**
 * Parses a result backend URL.
 * @throws Error whose message is ready to be a definitions problem or a usage error:
 * `"redis://h:x" is not a result backend URL: port "x" is not a number (expected rpc://, ...)`.
 */
export function parseResultBackendUrl(url: string): ResultBackendUrl {
  const refuse = (why: string): Error =>
    new Error(`${JSON.stringify(maskResultBackendUrl(url))} is not a result backend URL: ${why} (expected ${RESULT_BACKEND_EXPECTED})`);
  const match = /^([a-z+]+):\/\/(.*)$/i.exec(url);
  if (!match) throw refuse('no scheme');
  const scheme = match[1].toLowerCase();
  const rest = match[2];
  if (scheme === 'rpc') {
    if (rest !== '' && rest !== '/') throw refuse('rpc:// takes nothing after it');
    return { kind: 'rpc', display: 'rpc://' };
  }
  const flavour = SCHEMES[scheme];
  if (!flavour) throw refuse(`unknown scheme "${scheme}"`);

  const [beforeQuery, query = ''] = splitOnce(rest, '?');
  const at = beforeQuery.lastIndexOf('@');
  const userinfo = at >= 0 ? beforeQuery.slice(0, at) : undefined;
  const [hostList, path = ''] = splitOnce(at >= 0 ? beforeQuery.slice(at + 1) : beforeQuery, '/');

  let username: string | undefined;
  let password: string | undefined;
  if (userinfo !== undefined) {
    const [user, pass] = splitOnce(userinfo, ':');
    username = user === '' ? undefined : decode(user, refuse);
    password = pass === undefined ? undefined : decode(pass, refuse);
  }

  const nodes = (hostList === '' ? [''] : hostList.split(',')).map((text) => parseNode(text, refuse));
  if (!flavour.cluster && nodes.length > 1) throw refuse(`${scheme}:// takes one host; a Redis Cluster is ${scheme}+cluster://`);

  const dbText = path.replace(/\/$/, '');
  if (dbText !== '' && !/^\d+$/.test(dbText)) throw refuse(`database "${dbText}" is not a number`);
  const db = dbText === '' ? 0 : Number(dbText);
  if (flavour.cluster && db !== 0) throw refuse('a Redis Cluster has database 0 only');

  let waitReplicas = 0;
  let waitTimeoutMs = DEFAULT_WAIT_TIMEOUT_MS;
  let rejectUnauthorized = true;
  for (const [key, value] of new URLSearchParams(query)) {
    if (key === 'waitReplicas' || key === 'waitTimeoutMs') {
      if (!/^\d+$/.test(value)) throw refuse(`${key} "${value}" is not a whole number`);
      if (key === 'waitReplicas') waitReplicas = Number(value);
      else waitTimeoutMs = Number(value);
    } else if (key === 'ssl_cert_reqs') {
      if (!flavour.tls) throw refuse('ssl_cert_reqs needs rediss://');
      const mode = value.toUpperCase().replace(/^CERT_/, '');
      if (!['REQUIRED', 'OPTIONAL', 'NONE'].includes(mode)) throw refuse(`ssl_cert_reqs "${value}" is not CERT_REQUIRED, CERT_OPTIONAL or CERT_NONE`);
      rejectUnauthorized = mode !== 'NONE';
    } else {
      throw refuse(`unknown parameter "${key}" (known: waitReplicas, waitTimeoutMs, ssl_cert_reqs)`);
    }
  }
  return {
    kind: 'redis',
    display: maskResultBackendUrl(url),
    ...flavour,
    nodes,
    db,
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
    waitReplicas,
    waitTimeoutMs,
    rejectUnauthorized,
  };
}

/**
 * The URL with its password replaced by `***` (also in a cluster URL, which `new URL` cannot
 * parse), for logs and messages.
 */
export function maskResultBackendUrl(url: string): string {
  return url.replace(/^([a-z+]+:\/\/)([^@/?]*?):([^@/?]*)@/i, (_all, scheme: string, user: string) => `${scheme}${user}:***@`);
}

/** The message for a URL {@link parseResultBackendUrl} refuses, or undefined when it is one. */
export function resultBackendUrlProblem(url: unknown): string | undefined {
  if (typeof url !== 'string') return `${String(url)} is not a result backend URL (expected ${RESULT_BACKEND_EXPECTED})`;
  try {
    parseResultBackendUrl(url);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

function parseNode(text: string, refuse: (why: string) => Error): RedisNode {
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(text);
  const [host, portText] = bracketed ? [bracketed[1], bracketed[2]] : splitOnce(text, ':');
  if (portText !== undefined && !/^\d+$/.test(portText)) throw refuse(`port "${portText}" is not a number`);
  const port = portText === undefined || portText === '' ? 6379 : Number(portText);
  if (port < 1 || port > 65535) throw refuse(`port ${port} is out of range`);
  return { host: host === '' ? 'localhost' : host, port };
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const index = text.indexOf(separator);
  return index < 0 ? [text, undefined] : [text.slice(0, index), text.slice(index + 1)];
}

function decode(text: string, refuse: (why: string) => Error): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw refuse('the user name or password is not percent-encoded properly');
  }
}
