/**
 * A Celery signature as a dict on the wire (a link, an errback, a chain element, a chord
 * callback). Keys are Python's, snake_case.
 */
export interface SignatureDict {
  task: string;
  args?: unknown[];
  kwargs?: Record<string, unknown>;
  options?: Record<string, unknown>;
  subtask_type?: string | null;
  immutable?: boolean;
  chord_size?: number | null;
  [key: string]: unknown;
}

/** The third element of a v2 body: the work to do after this task. */
export interface TaskEmbed {
  /** Signatures to call with the result on success (`link`). */
  callbacks: SignatureDict[] | null;
  /** Signatures to call on failure (`link_error`). */
  errbacks: SignatureDict[] | null;
  /** The rest of a chain, **in reverse order**: the next task is the last element. */
  chain: SignatureDict[] | null;
  /** The callback of the chord this task belongs to. */
  chord: SignatureDict | null;
}

/** `[hard, soft]` time limits in seconds, hard first (as Celery's code sends them); null = none. */
export type TimeLimit = readonly [hard: number | null, soft: number | null];

/** A task message read from the broker, whatever protocol version it came in. */
export interface TaskMessage {
  /** The task id (a UUID for Celery senders). */
  id: string;
  /** The registered task name. */
  task: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  /** Always an object; a null embed on the wire reads as all four fields null. */
  embed: TaskEmbed;
  /** How many times the task has been retried so far (0 for the first run). */
  retries: number;
  /** Run no earlier than this; null = now. */
  eta: Date | null;
  /** Discard (REVOKED) if not started by then; null = never. */
  expires: Date | null;
  /** First task of the workflow, as sent (null when the sender sent none). */
  rootId: string | null;
  /** The task that sent this one. */
  parentId: string | null;
  /** Group id, when the task is part of a group. */
  group: string | null;
  groupIndex: number | null;
  timelimit: TimeLimit;
  /** Who sent it: `gen<pid>@<host>` or a worker's node name. */
  origin: string | null;
  /** The sender wants no result stored or sent. */
  ignoreResult: boolean;
  /** Name to show in logs instead of `task`. */
  shadow: string | null;
  /** Queue to send the result to; null when absent or empty (then no result is sent). */
  replyTo: string | null;
  /** The correlation id property, or the task id when absent (Celery falls back the same way). */
  correlationId: string;
  /** The priority property, null when absent. */
  priority: number | null;
  /** 2 for a v2 message; 1 for a v1 body dict, hybrid messages included. */
  protocol: 1 | 2;
  /** The AMQP headers as received (v2 headers, stamps, custom headers). */
  headers: Record<string, unknown>;
}

/** The snake_case application headers of a v2 task message, as warren sends them. */
export interface TaskMessageHeaders {
  lang: string;
  task: string;
  id: string;
  shadow: string | null;
  eta: string | null;
  expires: string | null;
  group: string | null;
  group_index: number | null;
  retries: number;
  timelimit: [number | null, number | null];
  root_id: string;
  parent_id: string | null;
  argsrepr: string;
  kwargsrepr: string;
  origin: string;
  ignore_result: boolean;
  [key: string]: unknown;
}
