import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Ports of the test cluster: six nodes, and their cluster bus ports (port + 10000). */
export const REDIS_CLUSTER_PORTS = [7310, 7311, 7312, 7313, 7314, 7315] as const;

async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-p', String(port), ...args], { timeout: 10_000 });
  return stdout;
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** One node as `CLUSTER NODES` shows it. */
export interface ClusterNode {
  port: number;
  id: string;
  role: 'master' | 'slave';
  /** The master's id, for a replica. */
  masterId: string | undefined;
  failed: boolean;
}

/**
 * A Redis Cluster of three masters and three replicas on loopback ports (DESIGN.md section 8's
 * recipe), each node a `redis-server` daemon with its files in a folder of its own, a short
 * `cluster-node-timeout` (2 s) so a dead master's replica is promoted in seconds. Started and
 * stopped by the test; each node is stopped by its own pid.
 */
export class RedisCluster {
  private readonly killed = new Set<number>();

  private constructor(
    readonly dir: string,
    readonly ports: readonly number[],
  ) {}

  /** The `redis+cluster://` URL of the cluster: every node a seed. */
  url(query = ''): string {
    return `redis+cluster://${this.ports.map((port) => `127.0.0.1:${port}`).join(',')}/${query}`;
  }

  static async start(ports: readonly number[] = REDIS_CLUSTER_PORTS): Promise<RedisCluster> {
    for (const port of ports) {
      if (await listening(port)) throw new Error(`port ${port} is in use: the Redis Cluster test needs ports ${ports.join(', ')} free`);
    }
    const dir = mkdtempSync(join(tmpdir(), 'warren-redis-cluster-'));
    const cluster = new RedisCluster(dir, ports);
    try {
      for (const port of ports) {
        await run('redis-server', [
          '--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`,
          '--cluster-node-timeout', '2000', '--repl-diskless-sync-delay', '0', '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'yes',
          '--pidfile', join(dir, `${port}.pid`), '--logfile', join(dir, `${port}.log`),
        ]);
      }
      for (const port of ports) await waitFor(`redis-server on ${port}`, () => listening(port), 10_000);
      await run('redis-cli', ['--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '1', '--cluster-yes'], { timeout: 30_000 });
      await cluster.waitUntilOk();
      // The replicas' roles reach every node by gossip, a moment after the cluster is ok.
      const replicas = ports.length / 2;
      await waitFor(`${replicas} replicas seen by every node`, async () => {
        for (const port of ports) {
          const seen = (await cli(port, 'cluster', 'nodes')).split('\n').filter((line) => (line.split(' ')[2] ?? '').split(',').includes('slave')).length;
          if (seen !== replicas) return false;
        }
        return true;
      }, 30_000);
      // A replica that never synced with its master is not promoted when the master dies.
      await waitFor('every replica in sync with its master', async () => {
        for (const port of ports) {
          const info = await cli(port, 'info', 'replication');
          if (info.includes('role:slave') && !info.includes('master_link_status:up')) return false;
        }
        return true;
      }, 30_000);
      return cluster;
    } catch (err) {
      await cluster.stop();
      throw err;
    }
  }

  /** Resolves once every live node says `cluster_state:ok`. */
  async waitUntilOk(timeoutMs = 30_000): Promise<void> {
    await waitFor('cluster_state:ok on every live node', async () => {
      for (const port of this.ports) {
        if (this.killed.has(port)) continue;
        if (!(await cli(port, 'cluster', 'info')).includes('cluster_state:ok')) return false;
      }
      return true;
    }, timeoutMs);
  }

  /** The nodes as a live node sees them. */
  async nodes(): Promise<ClusterNode[]> {
    const from = this.ports.find((port) => !this.killed.has(port)) as number;
    return (await cli(from, 'cluster', 'nodes'))
      .trim()
      .split('\n')
      .map((line) => {
        const [id, address, flags, master] = line.split(' ');
        return {
          port: Number(/:(\d+)@/.exec(address)?.[1]),
          id,
          role: flags.split(',').includes('master') ? ('master' as const) : ('slave' as const),
          masterId: master === '-' ? undefined : master,
          failed: flags.includes('fail'),
        };
      });
  }

  /** SIGKILLs the node on `port` (by its pid file), as a crash would. */
  kill(port: number): void {
    const pid = Number(readFileSync(join(this.dir, `${port}.pid`), 'utf8').trim());
    process.kill(pid, 'SIGKILL');
    this.killed.add(port);
  }

  /** Resolves once the replica of the master that was on `port` is a master. Returns its port. */
  async waitForPromotion(deadMasterId: string, replicaPort: number, timeoutMs = 30_000): Promise<void> {
    await waitFor(`the replica on ${replicaPort} of master ${deadMasterId} to be promoted`, async () => {
      const nodes = await this.nodes();
      return nodes.find((node) => node.port === replicaPort)?.role === 'master';
    }, timeoutMs);
    await this.waitUntilOk(timeoutMs);
  }

  /**
   * Starts the killed node on `port` again: it rejoins as a replica of the master that took its
   * place (its nodes file says who it was), so the next scenario has three replicas again.
   */
  async rejoin(port: number): Promise<void> {
    await run('redis-server', [
      '--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`,
      '--cluster-node-timeout', '2000', '--repl-diskless-sync-delay', '0', '--dir', this.dir, '--save', '', '--appendonly', 'no', '--daemonize', 'yes',
      '--pidfile', join(this.dir, `${port}.pid`), '--logfile', join(this.dir, `${port}.log`),
    ]);
    this.killed.delete(port);
    await waitFor(`node ${port} back as a replica in sync`, async () => {
      const info = await cli(port, 'info', 'replication');
      return info.includes('role:slave') && info.includes('master_link_status:up');
    }, 30_000);
    await this.waitUntilOk();
  }

  /** Stops every node (SIGKILL by pid: nothing is kept) and deletes the folder. */
  async stop(): Promise<void> {
    for (const port of this.ports) {
      if (this.killed.has(port)) continue;
      try {
        process.kill(Number(readFileSync(join(this.dir, `${port}.pid`), 'utf8').trim()), 'SIGKILL');
      } catch {
        // never started, or gone already
      }
    }
    for (const port of this.ports) await waitFor(`node ${port} to stop`, async () => !(await listening(port)), 10_000).catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
