/**
 * The `broker` section of a worker's `stats`, in the fields a Python worker reports (kombu's
 * `Connection.info()`), for the node the worker is connected to now (the URL it connected
 * through), its alternates (the other `broker.urls`) and failover strategy. The password is
 * never part of it.
 */
export function brokerInfo(url: string | undefined, alternates: readonly string[] = [], failoverStrategy = 'in-order'): Record<string, unknown> {
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
    failover_strategy: failoverStrategy,
    alternates: alternates.map(maskPassword).filter((alternate) => alternate !== url),
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
