import { pythonRepr } from '../protocol';
import { plural } from './fleet-options';

/**
 * How `warren inspect`, `warren control` and `warren status` print the replies of the fleet:
 * a line per node, then what it said, indented. Pure: replies in, text out.
 */

type Replies = Record<string, unknown>;

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Python's repr of a value a node sent (args as a Python worker holds them). */
function repr(value: unknown): string {
  if (typeof value === 'string' && /^[[({'"]/.test(value)) return value; // already a repr (safe=True, or argsrepr)
  try {
    return pythonRepr(value, 200);
  } catch {
    return String(value);
  }
}

/** An error reply (`{error: ...}`), said as such; undefined for any other reply. */
function errorOf(reply: unknown): string | undefined {
  return isObject(reply) && typeof reply.error === 'string' ? reply.error : undefined;
}

/** One task a node holds, on one line: `name[id] args=[2, 3] kwargs={}` and what else is known. */
function taskLine(info: Record<string, unknown>, now: number): string {
  const parts = [`${String(info.name ?? info.type ?? '?')}[${String(info.id ?? '?')}]`, `args=${repr(info.args ?? [])}`, `kwargs=${repr(info.kwargs ?? {})}`];
  if (typeof info.time_start === 'number') parts.push(`started ${seconds(now / 1000 - info.time_start)} ago`);
  if (isObject(info.delivery_info) && info.delivery_info.redelivered === true) parts.push('redelivered');
  return parts.join(' ');
}

function seconds(value: number): string {
  return `${Math.max(0, Math.round(value * 10) / 10)} s`;
}

/** A duration in seconds as `45s`, `12m`, `3h 5m`, `2d 4h`. */
export function uptime(totalSeconds: number): string {
  const s = Math.max(0, Math.round(totalSeconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}

/** The body of one node's reply to an inspect command, as lines (the node's header line first). */
function inspectBlock(action: string, node: string, reply: unknown, now: number): string[] {
  const error = errorOf(reply);
  if (error !== undefined) return [`${node}: error: ${error}`];
  const indent = (lines: string[]): string[] => lines.map((line) => `  ${line}`);
  const list = Array.isArray(reply) ? reply : [];
  switch (action) {
    case 'ping':
      return [`${node}: ${isObject(reply) && reply.ok !== undefined ? String(reply.ok) : JSON.stringify(reply)}`];
    case 'active':
    case 'reserved':
      return [`${node}: ${list.length} ${action}`, ...indent(list.filter(isObject).map((info) => taskLine(info, now)))];
    case 'scheduled':
      return [
        `${node}: ${list.length} scheduled`,
        ...indent(list.filter(isObject).map((entry) => `eta ${String(entry.eta)} ${isObject(entry.request) ? taskLine(entry.request, now) : ''}`.trimEnd())),
      ];
    case 'registered':
      return [`${node}: ${plural(list.length, 'task')}`, ...indent(list.map(String))];
    case 'active_queues':
      return [
        `${node}: ${plural(list.length, 'queue')}`,
        ...indent(
          list.filter(isObject).map((queue) => {
            const exchange = isObject(queue.exchange) ? queue.exchange : {};
            const name = String(exchange.name ?? '');
            return `${String(queue.name)}  exchange ${name === '' ? '(default)' : name} (${String(exchange.type ?? 'direct')})  routing key ${String(queue.routing_key ?? '')}`;
          }),
        ),
      ];
    case 'query_task': {
      const found = isObject(reply) ? Object.entries(reply) : [];
      return [
        `${node}: ${found.length} found`,
        ...indent(found.map(([id, value]) => (Array.isArray(value) && isObject(value[1]) ? `${id}: ${String(value[0])} ${taskLine(value[1], now)}` : `${id}: ${JSON.stringify(value)}`))),
      ];
    }
    case 'revoked':
      return [`${node}: ${list.length} revoked`, ...indent(list.map(String))];
    case 'clock':
      return [`${node}: clock ${isObject(reply) ? String(reply.clock) : JSON.stringify(reply)}`];
    case 'report':
      return [`${node}:`, ...indent(String(isObject(reply) ? (reply.ok ?? '') : reply).split('\n'))];
    case 'conf':
      // `key: value` a line each, as celery inspect conf prints them.
      return isObject(reply) && errorOf(reply) === undefined
        ? [`${node}:`, ...indent(Object.entries(reply).map(([key, value]) => `${key}: ${JSON.stringify(value)}`))]
        : [`${node}:`, ...indent(JSON.stringify(reply, null, 2).split('\n'))];
    default:
      return [`${node}:`, ...indent(JSON.stringify(reply, null, 2).split('\n'))];
  }
}

/** What `warren inspect <action>` prints for the replies, by node, in node order, then the count. */
export function formatInspect(action: string, replies: Replies, now = Date.now()): string {
  const nodes = Object.keys(replies).sort();
  const lines = nodes.flatMap((node) => inspectBlock(action, node, replies[node], now));
  return `${lines.join('\n')}\n\n${plural(nodes.length, 'node')} replied.\n`;
}

/** What `warren control <action>` prints: `node: OK message` or `node: ERROR message`, a line each. */
export function formatControl(replies: Replies): string {
  const nodes = Object.keys(replies).sort();
  const lines = nodes.map((node) => {
    const reply = replies[node];
    const error = errorOf(reply);
    if (error !== undefined) return `${node}: ERROR ${error}`;
    if (isObject(reply) && reply.ok !== undefined) return `${node}: OK ${String(reply.ok)}`;
    return `${node}: OK ${JSON.stringify(reply)}`;
  });
  return `${lines.join('\n')}\n`;
}

/** One worker as `warren status` sees it. */
export interface NodeStatus {
  node: string;
  /** `warren 0.1.0`, or `celery` for a Python worker (its stats do not say its version). */
  software: string;
  pid: number | null;
  uptimeSeconds: number | null;
  /** Tasks running now; null when the node did not say. */
  active: number | null;
  /** Tasks started since the worker started (the sum of its stats' `total`). */
  processed: number | null;
  concurrency: number | null;
  queues: string[];
  /** `host:port/vhost` the worker is connected to. */
  broker: string | null;
}

/** A node's status from its replies to ping, stats and active_queues. */
export function nodeStatus(node: string, stats: unknown, activeQueues: unknown): NodeStatus {
  const s = isObject(stats) && errorOf(stats) === undefined ? stats : {};
  const warren = isObject(s.warren) ? s.warren : undefined;
  const pool = isObject(s.pool) ? s.pool : {};
  const broker = isObject(s.broker) ? s.broker : undefined;
  const total = isObject(s.total) ? Object.values(s.total).reduce<number>((sum, n) => sum + (typeof n === 'number' ? n : 0), 0) : null;
  const queues = Array.isArray(activeQueues)
    ? activeQueues.filter(isObject).map((q) => String(q.name))
    : Array.isArray(warren?.queues)
      ? (warren.queues as unknown[]).map(String)
      : [];
  const vhost = broker && typeof broker.virtual_host === 'string' ? broker.virtual_host : '/';
  return {
    node,
    software: typeof s.sw_ident === 'string' ? `${s.sw_ident} ${String(s.sw_ver ?? '')}`.trim() : 'celery',
    pid: typeof s.pid === 'number' ? s.pid : null,
    uptimeSeconds: typeof s.uptime === 'number' ? s.uptime : null,
    active: typeof warren?.active === 'number' ? warren.active : null,
    processed: total,
    concurrency: typeof pool['max-concurrency'] === 'number' ? pool['max-concurrency'] : null,
    queues,
    broker: broker && broker.hostname ? `${String(broker.hostname)}:${String(broker.port)}${vhost === '/' ? '' : `/${vhost}`}` : null,
  };
}

/** `warren status`: one line per live worker, then the count, as `celery status` ends. */
export function formatStatus(nodes: readonly NodeStatus[]): string {
  const rows = [...nodes]
    .sort((a, b) => a.node.localeCompare(b.node))
    .map((n) => [
      n.node,
      'online',
      n.software,
      n.pid === null ? '' : `pid ${n.pid}`,
      n.uptimeSeconds === null ? '' : `up ${uptime(n.uptimeSeconds)}`,
      n.concurrency === null ? '' : `-c ${n.concurrency}`,
      n.active === null ? '' : `active ${n.active}`,
      n.processed === null ? '' : `processed ${n.processed}`,
      n.queues.length === 0 ? '' : `queues ${n.queues.join(',')}`,
      n.broker === null ? '' : `broker ${n.broker}`,
    ]);
  const widths = rows.reduce<number[]>((w, row) => row.map((cell, i) => Math.max(w[i] ?? 0, cell.length)), []);
  const lines = rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd());
  return `${lines.join('\n')}\n\n${plural(nodes.length, 'node')} online.\n`;
}
