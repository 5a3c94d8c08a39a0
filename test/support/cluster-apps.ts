/**
 * What the cluster tests (test/cluster/) share: the cluster the global setup started, definitions
 * for it, a log file per test, and a sender that keeps a window of `sendTask` calls in flight
 * and records when each was called and how it ended.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { App, Logger } from '../../src';
import { RabbitCluster } from './rabbitmq-cluster';

/** The cluster of `npm run test:cluster` (started by test/support/cluster-setup.ts). */
export function clusterForTests(): RabbitCluster {
  return RabbitCluster.attach({ log: (line) => void process.stdout.write(`[cluster] ${line}\n`) });
}

/** A folder for definitions files and logs; `remove()` deletes it. */
export function scratch(label: string): { dir: string; file(name: string, content: unknown): string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), `warren-${label}-`));
  return {
    dir,
    file(name, content) {
      const path = join(dir, name);
      writeFileSync(path, JSON.stringify(content, null, 2));
      return path;
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A logger writing JSON lines to `file` at info level: what a failed run is read from. */
export function fileLogger(file: string, role: string): Logger {
  return pino({ level: 'info', base: { role } }, pino.destination({ dest: file, sync: true }));
}

/** The URLs of the cluster's nodes, in the order given by node index. */
export function urlsOf(cluster: RabbitCluster, ...order: number[]): string[] {
  return order.map((index) => cluster.node(index).url);
}

/** The node index of a URL `connectedTo()` returned (its port), or undefined. */
export function nodeIndexOf(cluster: RabbitCluster, masked: string | undefined): number | undefined {
  if (masked === undefined) return undefined;
  const port = Number(new URL(masked).port);
  return cluster.nodes.find((node) => node.amqpPort === port)?.index;
}

/** Orders call starts and ends exactly, where two may fall in the same millisecond. */
let events = 0;

/** One `sendTask` call: when it was made and how it ended. */
export interface Call {
  readonly index: number;
  readonly calledAt: number;
  /** The order of the call's start among every start and end. */
  readonly calledSeq: number;
  settledAt: number;
  settledSeq: number;
  ok: boolean;
  taskId?: string;
  code?: string;
  message?: string;
  /** With results: the `get()` of a confirmed task. */
  result?: Promise<{ ok: true; value: unknown; at: number } | { ok: false; code: string; message: string; at: number }>;
}

/**
 * Sends tasks `0 .. total-1` (the index is the task's one argument) with `window` calls in
 * flight, and calls `onSettled` after each. With `results`, each confirmed task's `get()` is
 * started at once, bounded by `resultTimeoutMs`.
 */
export async function sendAll(
  app: App,
  task: string,
  options: { total: number; window: number; results?: { timeoutMs: number }; onSettled?: (call: Call) => void },
): Promise<Call[]> {
  const calls: Call[] = [];
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < options.total) {
      const index = next++;
      const call: Call = { index, calledAt: Date.now(), calledSeq: events++, settledAt: 0, settledSeq: 0, ok: false };
      calls[index] = call;
      try {
        const result = await app.sendTask(task, [index], {}, { ignoreResult: options.results === undefined });
        call.ok = true;
        call.taskId = result.id;
        const results = options.results;
        if (results) {
          call.result = result.get({ timeout: results.timeoutMs }).then(
            (value) => ({ ok: true as const, value, at: Date.now() }),
            (error: { code?: string; message?: string }) => ({ ok: false as const, code: error.code ?? 'none', message: error.message ?? String(error), at: Date.now() }),
          );
        }
      } catch (error) {
        const { code, message } = error as { code?: string; message?: string };
        call.code = code ?? 'none';
        call.message = message ?? String(error);
      }
      call.settledAt = Date.now();
      call.settledSeq = events++;
      options.onSettled?.(call);
    }
  };
  await Promise.all(Array.from({ length: options.window }, lane));
  return calls;
}

/** The figures a cluster fault test prints and the docs keep. */
export interface ClusterFigures {
  sent: number;
  confirmed: number;
  processed: number;
  duplicates: number;
  lost: number;
  /** Rejected `sendTask` calls, by error code. */
  rejected: Record<string, number>;
  /** From the SIGKILL to the first confirm of a call made after it. */
  recoverMs: number | undefined;
}

export function printFigures(test: string, figures: ClusterFigures, extra: Record<string, unknown> = {}): void {
  const { rejected, ...counts } = figures;
  const parts = Object.entries({ ...counts, rejected: JSON.stringify(rejected), ...extra }).map(([key, value]) => `${key} ${String(value)}`);
  process.stdout.write(`[cluster] ${test}: ${parts.join(' / ')}\n`);
}

export async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
