/**
 * The `broker` section of a worker's `stats`, in the fields a Python worker reports (kombu's
 * `Connection.info()`), for the URL the worker connected through. The password is never part
 * of it.
 */
export function brokerInfo(url: string | undefined, alternates: readonly string[] = []): Record<string, unknown> {
  let parsed: URL | undefined;
  try {
    parsed = url ? new URL(url) : undefined;
  } catch {
    parsed = undefined;
  }
  const ssl = parsed?.protocol === 'amqps:';
  const vhost = parsed ? decodeURIComponent(parsed.pathname.replace(/^\//, '')) || '/' : undefined;
  return {
    hostname: parsed?.hostname ?? null,
    userid: parsed ? decodeURIComponent(parsed.username) || 'guest' : null,
    virtual_host: vhost ?? null,
    port: parsed ? Number(parsed.port || (ssl ? 5671 : 5672)) : null,
    insist: false,
    ssl,
    transport: parsed?.protocol === 'memory:' ? 'memory' : 'amqp',
    connect_timeout: null,
    transport_options: {},
    login_method: 'PLAIN',
    uri_prefix: null,
    heartbeat: 5,
    failover_strategy: 'in-order',
    alternates: alternates.filter((alternate) => alternate !== url).map(maskPassword),
  };
}

function maskPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}
