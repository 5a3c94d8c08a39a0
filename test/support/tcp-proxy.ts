import { createServer, connect, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { testBrokerUrl } from './broker-url';

/**
 * What the proxy does with a new connection:
 * - `forward`: pass it on to the target, both ways (after `delayMs` each way, if set);
 * - `refuse`: nothing listens on the port, so connecting fails with ECONNREFUSED;
 * - `hang`: accept the TCP connection and never answer (the peer's bytes are swallowed), as a
 *   firewall that lets SYN through, a stuck process or a wrong service would.
 */
export type ProxyMode = 'forward' | 'refuse' | 'hang';

export interface TcpProxyOptions {
  /** @defaultValue the test broker's host and port */
  target?: { host: string; port: number };
  /** @defaultValue 'forward' */
  mode?: ProxyMode;
  /** Added to each direction of a forwarded connection, so a round trip takes 2 × delayMs more. @defaultValue 0 */
  delayMs?: number;
  /** Terminate TLS with this key and certificate (PEM): an `amqps://` front for the plain broker. */
  tls?: { key: string; cert: string };
}

/**
 * A TCP proxy on loopback in front of the broker, for network faults in tests: forward, refuse,
 * accept-and-hang, added latency, and `cut()` to break every live connection at once. Changing
 * the mode acts on new connections; live ones keep going until cut.
 */
export class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private mode: ProxyMode;
  private delayMs: number;
  private readonly target: { host: string; port: number };
  private readonly tls: { key: string; cert: string } | undefined;
  /** Connections accepted so far, in any mode. */
  accepted = 0;

  private constructor(
    readonly port: number,
    options: TcpProxyOptions,
  ) {
    this.mode = options.mode ?? 'forward';
    this.delayMs = options.delayMs ?? 0;
    this.target = options.target ?? brokerAddress();
    this.tls = options.tls;
  }

  /** Starts a proxy on a free loopback port. */
  static async start(options: TcpProxyOptions = {}): Promise<TcpProxy> {
    const probe = createServer();
    const port = await new Promise<number>((resolve, reject) => {
      probe.once('error', reject);
      probe.listen(0, '127.0.0.1', () => resolve((probe.address() as { port: number }).port));
    });
    await new Promise((resolve) => probe.close(resolve));
    const proxy = new TcpProxy(port, options);
    if (proxy.mode !== 'refuse') await proxy.listen();
    return proxy;
  }

  /** The test broker URL (credentials, vhost and all) pointed at this proxy; `amqps://` with `tls`. */
  url(base: string = testBrokerUrl()): string {
    const url = new URL(base);
    if (this.tls) url.protocol = 'amqps:';
    url.hostname = '127.0.0.1';
    url.port = String(this.port);
    return url.toString();
  }

  /** Connections open now (both sides of a forwarded one count as one). */
  get openConnections(): number {
    return this.sockets.size;
  }

  async setMode(mode: ProxyMode): Promise<void> {
    this.mode = mode;
    if (mode === 'refuse') await this.unlisten();
    else await this.listen();
  }

  setDelay(delayMs: number): void {
    this.delayMs = delayMs;
  }

  /** Breaks every live connection (the client sees its socket close), whatever the mode. */
  cut(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  async close(): Promise<void> {
    this.cut();
    await this.unlisten();
  }

  private async listen(): Promise<void> {
    if (this.server) return;
    const server = this.tls
      ? createTlsServer({ key: this.tls.key, cert: this.tls.cert }, (socket) => this.accept(socket))
      : createServer((socket) => this.accept(socket));
    server.on('tlsClientError', () => undefined);
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
  }

  private async unlisten(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise((resolve) => server.close(resolve));
  }

  private accept(client: Socket): void {
    this.accepted += 1;
    this.sockets.add(client);
    client.on('error', () => undefined);
    client.on('close', () => this.sockets.delete(client));
    if (this.mode === 'hang') {
      client.resume(); // swallow whatever arrives, answer nothing
      return;
    }
    const upstream = connect(this.target.port, this.target.host);
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    // A cut destroys the client side; the upstream follows through the listener above.
    this.pipe(client, upstream);
    this.pipe(upstream, client);
  }

  /**
   * Copies `from` to `to`, holding each chunk for the delay set when it arrives (so `setDelay`
   * acts on live connections too), in order.
   */
  private pipe(from: Socket, to: Socket): void {
    const queue: Array<{ at: number; chunk: Buffer }> = [];
    let timer: NodeJS.Timeout | undefined;
    let ended = false;
    const flush = (): void => {
      timer = undefined;
      const now = Date.now();
      while (queue.length > 0 && queue[0].at <= now) {
        const { chunk } = queue.shift()!;
        if (!to.destroyed) to.write(chunk);
      }
      if (queue.length > 0) timer = setTimeout(flush, queue[0].at - now);
      else if (ended && !to.destroyed) to.end();
    };
    from.on('data', (chunk: Buffer) => {
      queue.push({ at: Date.now() + this.delayMs, chunk });
      if (timer === undefined) flush();
    });
    from.on('end', () => {
      ended = true;
      if (timer === undefined) flush();
    });
    from.on('close', () => clearTimeout(timer));
  }
}

/** Host and port of the test broker. */
function brokerAddress(): { host: string; port: number } {
  const url = new URL(testBrokerUrl());
  return { host: url.hostname, port: Number(url.port || (url.protocol === 'amqps:' ? 5671 : 5672)) };
}
