/**
 * A throwaway three-node RabbitMQ cluster on loopback, for failover tests and benchmarks.
 *
 * Each node runs the machine's own `rabbitmq-server` (Debian's 3.10) with a folder of its own
 * under a random name in the temp folder: its config file (the machine's
 * `/etc/rabbitmq/rabbitmq.conf` pins port 5672, so every node needs its own), enabled plugins
 * (none), mnesia, log, pid file and crash dump. Node i is `rq<i>@localhost`, AMQP on
 * 127.0.0.1:568<i>, distribution on 2568<i>. It never touches the machine's own broker
 * (`rabbit@localhost` on 5672): every command names its node with `-n`, and a node is only ever
 * signalled after its process was checked to be one of ours (its environment names our pid file).
 *
 * Forming the cluster: node 1 starts blank; nodes 2 and 3 start at the same time with classic
 * peer discovery naming node 1, so they join it during their own boot (retrying until node 1
 * answers) instead of booting, stopping their app, joining and booting again as
 * `join_cluster` needs. On this 2-core machine the cluster runs after about 9 s when the machine
 * is quiet and 12-18 s while other test suites run (the join_cluster recipe: 14 s and 24-28 s).
 * Nodes booting together enable no feature flags (each sees the others and takes itself for a
 * joining node), so once the cluster runs, all feature flags are enabled (quorum queues need one).
 *
 * From a test: `const cluster = await RabbitCluster.start(); ... await cluster.stop();`.
 * From a shell: `npm run cluster:up` (it stays up; its folder is recorded in a state file),
 * `npm run cluster -- kill 1|restart 1|leader cq|status`, `npm run cluster:down`.
 * A cluster started in a process is killed and its folder removed when that process exits,
 * even on SIGINT/SIGTERM, unless it was started with `keep: true`.
 */
import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, unlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { connect as connectTcp } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'amqplib';
import { processAlive as alive } from './processes';

export interface RabbitClusterOptions {
  /** How many nodes. @defaultValue 3 */
  size?: number;
  /** AMQP port of node 1; node i listens on `amqpPort + i - 1`. @defaultValue 5681 */
  amqpPort?: number;
  /** Erlang distribution port of node 1; node i uses `distPort + i - 1`. @defaultValue 25681 */
  distPort?: number;
  /** Node i is `<namePrefix><i>@localhost`. @defaultValue 'rq' */
  namePrefix?: string;
  /** How long starting the cluster, or one node, may take. @defaultValue 90000 */
  startTimeoutMs?: number;
  /**
   * Leave the nodes running when this process exits (for `cluster:up`); the folder is recorded
   * in the state file so that `RabbitCluster.attach()` finds it later. @defaultValue false
   */
  keep?: boolean;
  /** Progress lines (`(line) => console.log(line)` in scripts). */
  log?: (line: string) => void;
}

export interface ClusterNode {
  /** 1-based. */
  index: number;
  /** Erlang node name, e.g. `rq1@localhost`. */
  name: string;
  amqpPort: number;
  distPort: number;
  /** `amqp://guest:guest@127.0.0.1:<port>/`. */
  url: string;
  dir: string;
}

export interface QuorumQueueStatus {
  name: string;
  /** Node name of the leader as the broker reports it (may still name a dead node right after a kill). */
  leader: string;
  members: string[];
  online: string[];
}

interface StateFile {
  dir: string;
  nodes: ClusterNode[];
  startedAt: string;
  startedInMs: number;
}

/** Where `cluster:up` records the running cluster, for `cluster:down` and the other commands. */
export const CLUSTER_STATE_FILE = process.env.WARREN_CLUSTER_STATE ?? join(tmpdir(), 'warren-rabbitmq-cluster.json');

const RABBITMQ_SERVER = firstExisting(['/usr/sbin/rabbitmq-server', '/usr/lib/rabbitmq/bin/rabbitmq-server']) ?? 'rabbitmq-server';
const RABBITMQCTL = firstExisting(['/usr/sbin/rabbitmqctl', '/usr/lib/rabbitmq/bin/rabbitmqctl']) ?? 'rabbitmqctl';

export class RabbitCluster {
  /** Milliseconds from the first `rabbitmq-server` to every node running in one cluster. */
  startedInMs = 0;
  private stopped = false;
  private readonly onExit = (): void => this.killSync();
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    this.killSync();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };

  private constructor(
    readonly dir: string,
    readonly nodes: readonly ClusterNode[],
    private readonly options: RabbitClusterOptions,
  ) {}

  /** The AMQP URLs of all nodes, node 1 first: what `broker.urls` lists. */
  get urls(): string[] {
    return this.nodes.map((node) => node.url);
  }

  /** Node by 1-based index or Erlang name. */
  node(which: number | string): ClusterNode {
    const node = typeof which === 'number' ? this.nodes[which - 1] : this.nodes.find((n) => n.name === which || n.url === which);
    if (!node) throw new Error(`no node ${String(which)} in the cluster (nodes: ${this.nodes.map((n) => n.name).join(', ')})`);
    return node;
  }

  /** Starts the nodes, forms the cluster and waits until every node runs in it. */
  static async start(options: RabbitClusterOptions = {}): Promise<RabbitCluster> {
    const size = options.size ?? 3;
    const amqpPort = options.amqpPort ?? 5681;
    const distPort = options.distPort ?? 25681;
    const prefix = options.namePrefix ?? 'rq';
    const log = options.log ?? (() => undefined);
    if (!canRunAsRabbitmq()) {
      throw new Error('the local RabbitMQ cluster needs root or the rabbitmq user (its nodes run as rabbitmq and own their folders)');
    }
    const busy = await busyPorts(Array.from({ length: size }, (_, i) => [amqpPort + i, distPort + i]).flat());
    if (busy.length > 0) {
      throw new Error(
        `ports ${busy.join(', ')} are already in use: is a cluster still running? ` +
          '(`npm run cluster:down` stops it, and any cluster a killed test run left behind)',
      );
    }
    const dir = mkdtempSync(join(tmpdir(), 'warren-cluster-'));
    const nodes: ClusterNode[] = Array.from({ length: size }, (_, i) => ({
      index: i + 1,
      name: `${prefix}${i + 1}@localhost`,
      amqpPort: amqpPort + i,
      distPort: distPort + i,
      url: `amqp://guest:guest@127.0.0.1:${amqpPort + i}/`,
      dir: join(dir, `${prefix}${i + 1}`),
    }));
    for (const node of nodes) writeNodeFiles(node, node.index === 1 ? undefined : nodes[0].name);
    chownToRabbitmq(dir);
    const cluster = new RabbitCluster(dir, nodes, options);
    cluster.watchExit();
    const began = Date.now();
    try {
      log(`starting ${nodes.map((n) => `${n.name} on ${n.amqpPort}`).join(', ')} in ${dir}`);
      await Promise.all(nodes.map((node) => cluster.startNode(node)));
      log(`nodes up after ${Date.now() - began} ms; waiting for the cluster`);
      await cluster.waitForRunning(nodes.map((n) => n.name));
      await cluster.enableFeatureFlags();
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    cluster.startedInMs = Date.now() - began;
    log(`cluster of ${size} running after ${cluster.startedInMs} ms`);
    if (options.keep) {
      const state: StateFile = { dir, nodes, startedAt: new Date(began).toISOString(), startedInMs: cluster.startedInMs };
      writeFileSync(CLUSTER_STATE_FILE, JSON.stringify(state, null, 2));
    }
    return cluster;
  }

  /** The cluster `cluster:up` left running (from the state file). */
  static attach(options: Omit<RabbitClusterOptions, 'keep'> = {}): RabbitCluster {
    if (!existsSync(CLUSTER_STATE_FILE)) throw new Error(`no cluster is recorded in ${CLUSTER_STATE_FILE} (start one with \`npm run cluster:up\`)`);
    const state = JSON.parse(readFileSync(CLUSTER_STATE_FILE, 'utf8')) as StateFile;
    const cluster = new RabbitCluster(state.dir, state.nodes, { ...options, keep: true });
    cluster.startedInMs = state.startedInMs;
    return cluster;
  }

  /**
   * For scripts: with `ATTACH=1` in the environment the cluster `cluster:up` left running
   * (quick to iterate on), otherwise a new one. `release()` gives it back.
   */
  static forScript(log?: (line: string) => void): Promise<RabbitCluster> {
    return process.env.ATTACH === '1' ? Promise.resolve(RabbitCluster.attach({ log })) : RabbitCluster.start({ log });
  }

  /** Ends a script's use: a cluster this process started is stopped; an attached one is left running with every node up. */
  async release(): Promise<void> {
    if (!this.options.keep) return this.stop();
    for (const node of this.nodes) if (!this.isUp(node.index)) await this.restart(node.index);
  }

  /**
   * Kills every node of every cluster this module started on this machine that is still running
   * (from a test process that was itself killed, say) and removes their folders; returns the
   * folders. Found by the `warren-cluster-` folder their environment names; never touches
   * another broker.
   */
  static stopAll(): string[] {
    const prefix = `RABBITMQ_PID_FILE=${join(tmpdir(), 'warren-cluster-')}`;
    const folders = new Set<string>();
    for (const { pid, environ } of processes()) {
      const mark = environ.find((line) => line.startsWith(prefix));
      if (!mark) continue;
      signal(pid, 'SIGKILL');
      folders.add(mark.slice('RABBITMQ_PID_FILE='.length).split('/').slice(0, -2).join('/'));
    }
    for (const entry of readdirSync(tmpdir())) {
      if (entry.startsWith('warren-cluster-')) folders.add(join(tmpdir(), entry));
    }
    for (const folder of folders) rmSync(folder, { recursive: true, force: true });
    rmSync(CLUSTER_STATE_FILE, { force: true });
    return [...folders];
  }

  /** Kills the node with SIGKILL (as a crash or power loss would) and waits until its process is gone. */
  async kill(which: number | string): Promise<void> {
    const node = this.node(which);
    const pid = ownPid(node);
    if (pid === undefined) throw new Error(`${node.name} is not running (no live process for ${pidFile(node)})`);
    process.kill(pid, 'SIGKILL');
    await waitFor(`${node.name} (pid ${pid}) to exit`, 10_000, async () => !alive(pid));
    rmSync(pidFile(node), { force: true });
    this.options.log?.(`killed ${node.name} (pid ${pid})`);
  }

  /** Starts a stopped or killed node again with its own data and waits until it runs in the cluster. */
  async restart(which: number | string): Promise<void> {
    const node = this.node(which);
    if (ownPid(node) !== undefined) throw new Error(`${node.name} is still running`);
    const began = Date.now();
    await this.startNode(node);
    await this.waitForRunning(this.nodes.map((n) => n.name), node.name);
    this.options.log?.(`restarted ${node.name}; back in the cluster after ${Date.now() - began} ms`);
  }

  /** Whether the node's process is alive. */
  isUp(which: number | string): boolean {
    return ownPid(this.node(which)) !== undefined;
  }

  /** Nodes the cluster reports running, asked of `via` (default: the first node that is up). */
  async runningNodes(via?: number | string): Promise<string[]> {
    const status = JSON.parse(await this.ctl(via, ['cluster_status', '--formatter', 'json'])) as { running_nodes?: string[] };
    return status.running_nodes ?? [];
  }

  /** Waits until `via` reports every one of `names` running (default: all nodes). */
  async waitForRunning(names: readonly string[] = this.nodes.map((n) => n.name), via?: number | string): Promise<void> {
    let last: string[] = [];
    await waitFor(
      () => `the cluster to report ${names.join(', ')} running (it reports ${last.join(', ') || 'nothing'})`,
      this.options.startTimeoutMs ?? 90_000,
      async () => {
        last = await this.runningNodes(via).catch(() => []);
        return names.every((name) => last.includes(name));
      },
      250,
    );
  }

  /** Leader, members and online members of each quorum queue (of `vhost`), asked of a running node. */
  async quorumQueues(vhost = '/', via?: number | string): Promise<QuorumQueueStatus[]> {
    const out = await this.ctl(via, ['list_queues', '-p', vhost, 'name', 'type', 'leader', 'members', 'online', '--formatter', 'json']);
    const rows = JSON.parse(out) as Array<QuorumQueueStatus & { type: string }>;
    return rows.filter((row) => row.type === 'quorum').map(({ name, leader, members, online }) => ({ name, leader, members, online }));
  }

  /** Names of the queues (of `vhost`) whose process runs on node `which` (`list_queues --local`): where an exclusive or classic queue lives. */
  async queuesOn(which: number | string, vhost = '/'): Promise<string[]> {
    const out = await this.ctl(which, ['list_queues', '-p', vhost, '--local', 'name', '--formatter', 'json']);
    return (JSON.parse(out) as Array<{ name: string }>).map((row) => row.name);
  }

  /** The node that leads the quorum queue now. */
  async leaderOf(queue: string, vhost = '/', via?: number | string): Promise<string> {
    const row = (await this.quorumQueues(vhost, via)).find((q) => q.name === queue);
    if (!row) throw new Error(`no quorum queue "${queue}" in vhost "${vhost}"`);
    return row.leader;
  }

  /** Waits until the queue's leader is a running node other than `notOn`; returns it. */
  async waitForLeader(queue: string, options: { notOn?: string; timeoutMs?: number; vhost?: string } = {}): Promise<string> {
    let leader = '';
    await waitFor(
      () => `a leader for "${queue}"${options.notOn ? ` other than ${options.notOn}` : ''} (last reported: ${leader || 'none'})`,
      options.timeoutMs ?? 30_000,
      async () => {
        leader = await this.leaderOf(queue, options.vhost).catch(() => '');
        return leader !== '' && leader !== options.notOn && this.nodes.some((n) => n.name === leader && this.isUp(n.index));
      },
      100,
    );
    return leader;
  }

  /**
   * Declares a quorum queue bound to a direct exchange, made anew (deleted first) through node
   * `leaderOn` so that its leader is there (quorum queues lead where they are declared); returns
   * the leader the broker reports.
   */
  async declareQuorumQueue(queue: string, options: { exchange: string; routingKey?: string; leaderOn: number }): Promise<string> {
    const model = await connect(this.node(options.leaderOn).url);
    model.on('error', () => undefined);
    try {
      const channel = await model.createChannel();
      await channel.deleteQueue(queue);
      await channel.assertExchange(options.exchange, 'direct', { durable: true });
      await channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
      await channel.bindQueue(queue, options.exchange, options.routingKey ?? queue);
    } finally {
      await model.close().catch(() => undefined);
    }
    return this.leaderOf(queue);
  }

  /** Runs `rabbitmqctl -n <node> ...` and returns its stdout. */
  async ctl(via: number | string | undefined, args: readonly string[], timeoutMs = 30_000): Promise<string> {
    const node = via === undefined ? this.nodes.find((n) => this.isUp(n.index)) : this.node(via);
    if (!node) throw new Error('no node of the cluster is running');
    return run(RABBITMQCTL, ['-n', node.name, ...args], process.env, timeoutMs);
  }

  /** Kills every node and removes the folder (and the state file if it names this cluster). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    const pids = processesOf(this.nodes);
    for (const pid of pids) signal(pid, 'SIGKILL');
    await waitFor('the nodes to exit', 10_000, async () => pids.every((pid) => !alive(pid)));
    this.removeFolder();
    this.stopped = true;
    this.unwatchExit();
    this.options.log?.(`stopped ${this.nodes.length} nodes and removed ${this.dir}`);
  }

  /**
   * Nodes that boot at the same time each see the others connected and take themselves for
   * "a clustered node starting for the first time", which enables no feature flags: without
   * this, declaring a quorum queue fails with "the corresponding feature flag is disabled".
   */
  private async enableFeatureFlags(): Promise<void> {
    await this.ctl(1, ['enable_feature_flag', 'all']);
    const flags = JSON.parse(await this.ctl(1, ['list_feature_flags', '--formatter', 'json'])) as Array<{ name: string; state: string }>;
    const disabled = flags.filter((flag) => flag.state !== 'enabled').map((flag) => flag.name);
    if (disabled.length > 0) throw new Error(`feature flags still disabled after enable_feature_flag all: ${disabled.join(', ')}`);
  }

  private async startNode(node: ClusterNode): Promise<void> {
    const env = { ...process.env, ...nodeEnvironment(node) };
    await run(RABBITMQ_SERVER, ['-detached'], env, 30_000);
    const timeoutMs = this.options.startTimeoutMs ?? 90_000;
    let pid: number | undefined;
    await waitFor(
      () => `${node.name} to write its pid file ${pidFile(node)}${logTail(node)}`,
      timeoutMs,
      async () => (pid = ownPid(node)) !== undefined,
      50,
    );
    // The AMQP listener opens last in the boot, after the node joined the cluster.
    await waitFor(
      () => `${node.name} to accept connections on 127.0.0.1:${node.amqpPort}${logTail(node)}`,
      timeoutMs,
      async () => {
        if (pid !== undefined && !alive(pid)) throw new Error(`${node.name} exited while starting${logTail(node)}`);
        return portOpen(node.amqpPort);
      },
      100,
    );
  }

  private watchExit(): void {
    if (this.options.keep) return;
    process.once('exit', this.onExit);
    process.once('SIGINT', this.onSignal);
    process.once('SIGTERM', this.onSignal);
  }

  private unwatchExit(): void {
    process.removeListener('exit', this.onExit);
    process.removeListener('SIGINT', this.onSignal);
    process.removeListener('SIGTERM', this.onSignal);
  }

  /** For process exit: no awaiting possible, so kill and remove at once. */
  private killSync(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const pid of processesOf(this.nodes)) signal(pid, 'SIGKILL');
    this.removeFolder();
  }

  private removeFolder(): void {
    rmSync(this.dir, { recursive: true, force: true });
    if (existsSync(CLUSTER_STATE_FILE)) {
      try {
        const state = JSON.parse(readFileSync(CLUSTER_STATE_FILE, 'utf8')) as StateFile;
        if (state.dir === this.dir) unlinkSync(CLUSTER_STATE_FILE);
      } catch {
        // A state file that does not parse belongs to nobody; leave it for a person to look at.
      }
    }
  }
}

function writeNodeFiles(node: ClusterNode, joinNode: string | undefined): void {
  mkdirSync(node.dir, { recursive: true });
  const lines = [`listeners.tcp.local = 127.0.0.1:${node.amqpPort}`, 'loopback_users = none'];
  if (joinNode) {
    // Joins `joinNode` during its first boot; retries while that node is still booting.
    lines.push(
      'cluster_formation.peer_discovery_backend = classic_config',
      `cluster_formation.classic_config.nodes.1 = ${joinNode}`,
      `cluster_formation.classic_config.nodes.2 = ${node.name}`,
      'cluster_formation.discovery_retry_limit = 240',
      'cluster_formation.discovery_retry_interval = 250',
    );
  }
  writeFileSync(join(node.dir, 'rabbitmq.conf'), `${lines.join('\n')}\n`);
  writeFileSync(join(node.dir, 'enabled_plugins'), '[].\n');
}

function nodeEnvironment(node: ClusterNode): Record<string, string> {
  return {
    RABBITMQ_NODENAME: node.name,
    RABBITMQ_DIST_PORT: String(node.distPort),
    RABBITMQ_CONFIG_FILE: join(node.dir, 'rabbitmq.conf'),
    RABBITMQ_MNESIA_BASE: join(node.dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(node.dir, 'log'),
    RABBITMQ_PID_FILE: pidFile(node),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(node.dir, 'enabled_plugins'),
    // Otherwise a node that fails to boot drops erl_crash.dump into /var/lib/rabbitmq.
    ERL_CRASH_DUMP: join(node.dir, 'erl_crash.dump'),
  };
}

function pidFile(node: ClusterNode): string {
  return join(node.dir, 'pid');
}

/** The pid in the node's pid file, if that process is alive and is this node (its environment names our pid file). */
function ownPid(node: ClusterNode): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile(node), 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 1) return undefined;
  try {
    const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    return environ.includes(`RABBITMQ_PID_FILE=${pidFile(node)}`) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Every process started for these nodes, found by the pid file named in its environment: also a
 * node still booting (no pid file yet) and the wrappers that start it. Never epmd, which the first
 * node on a machine starts with its own environment but which every Erlang node there shares.
 */
function processesOf(nodes: readonly ClusterNode[]): number[] {
  const marks = new Set(nodes.map((node) => `RABBITMQ_PID_FILE=${pidFile(node)}`));
  return processes()
    .filter(({ environ }) => environ.some((line) => marks.has(line)))
    .map(({ pid }) => pid);
}

/** Every process but this one and epmd, with its environment. */
function processes(): Array<{ pid: number; environ: string[] }> {
  const found: Array<{ pid: number; environ: string[] }> = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'epmd') continue;
      found.push({ pid, environ: readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0') });
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Exited meanwhile.
  }
}

function logTail(node: ClusterNode): string {
  const logDir = join(node.dir, 'log');
  try {
    const file = readdirSync(logDir).find((name) => name === `${node.name}.log`);
    if (!file) return '';
    const lines = readFileSync(join(logDir, file), 'utf8').trimEnd().split('\n');
    return `\n--- last lines of ${join(logDir, file)} ---\n${lines.slice(-15).join('\n')}`;
  } catch {
    return '';
  }
}

function canRunAsRabbitmq(): boolean {
  const uid = process.getuid?.();
  return uid === 0 || uid === rabbitmqIds()?.uid;
}

function rabbitmqIds(): { uid: number; gid: number } | undefined {
  try {
    const line = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((entry) => entry.startsWith('rabbitmq:'));
    if (!line) return undefined;
    const [, , uid, gid] = line.split(':');
    return { uid: Number(uid), gid: Number(gid) };
  } catch {
    return undefined;
  }
}

function chownToRabbitmq(path: string): void {
  const ids = rabbitmqIds();
  if (!ids || process.getuid?.() !== 0) return;
  chownSync(path, ids.uid, ids.gid);
  if (statSync(path).isDirectory()) for (const entry of readdirSync(path)) chownToRabbitmq(join(path, entry));
}

function firstExisting(paths: readonly string[]): string | undefined {
  return paths.find((path) => existsSync(path));
}

function run(command: string, args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    // The Debian wrappers cd to /var/lib/rabbitmq and switch to the rabbitmq user themselves.
    execFile(command, [...args], { env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${command} ${args.join(' ')} failed: ${err.message}\n${stderr}`.trimEnd()));
      else resolve(stdout);
    });
  });
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connectTcp({ host: '127.0.0.1', port });
    const done = (open: boolean): void => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function busyPorts(ports: readonly number[]): Promise<number[]> {
  const open = await Promise.all(ports.map(portOpen));
  return ports.filter((_, i) => open[i]);
}

async function waitFor(what: string | (() => string), timeoutMs: number, check: () => Promise<boolean>, intervalMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
