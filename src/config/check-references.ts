/**
 * Cross-references between the merged files: every exchange and queue that a binding, a
 * dead-letter setting, the default queue, a route or a schedule entry names must be declared.
 * Only sound items are checked as referrers; names declared by broken items count as declared,
 * and where some item's name could not be read, no name of that kind is called undeclared.
 */
import type { DefinitionProblem } from '../errors';
import type { BindingDefinition, Definitions } from './types';
import type { RoutingTarget } from './document-schema';
import type { MergedDocuments } from './merge-documents';
import { childPath, itemPath } from './problem-path';
import type { Located } from './schema';

function listOrNone(names: readonly string[]): string {
  return names.length === 0 ? 'none' : names.join(', ');
}

/** Names in order, each once. */
function union(...lists: ReadonlyArray<readonly string[]>): string[] {
  return [...new Set(lists.flat())];
}

/** The names references may use. */
interface Known {
  readonly names: readonly string[];
  /** False when some declaration's name is unreadable: an unknown name may be that one. */
  readonly complete: boolean;
}

class References {
  constructor(
    private readonly exchanges: Known,
    private readonly queues: Known,
    /** Bindings of the queues that resolved; a broken queue's are unknown. */
    private readonly bindings: ReadonlyMap<string, readonly BindingDefinition[]>,
    private readonly problems: DefinitionProblem[],
  ) {}

  private report(file: string, path: string, message: string): void {
    this.problems.push({ file, path, message });
  }

  exchange(name: string | undefined, file: string, path: string): void {
    if (name === undefined || this.exchanges.names.includes(name)) return;
    const declared = `(declared exchanges: ${listOrNone(this.exchanges.names)})`;
    if (name === '') this.report(file, path, `exchange "" is the default exchange, which cannot be named here ${declared}`);
    else if (this.exchanges.complete) this.report(file, path, `exchange "${name}" is not declared ${declared}`);
  }

  queue(name: string | undefined, file: string, path: string): void {
    if (name === undefined || this.queues.names.includes(name) || !this.queues.complete) return;
    this.report(file, path, `queue "${name}" is not declared (declared queues: ${listOrNone(this.queues.names)})`);
  }

  /** A route or schedule entry: its queue and exchange exist, and the queue is bound to that exchange. */
  target({ value, file, path }: Located<RoutingTarget>): void {
    this.queue(value.queue, file, childPath(path, 'queue'));
    this.exchange(value.exchange, file, childPath(path, 'exchange'));
    if (value.queue === undefined || value.exchange === undefined || !this.exchanges.names.includes(value.exchange)) return;
    const bindings = this.bindings.get(value.queue);
    if (bindings === undefined || bindings.some((binding) => binding.exchange === value.exchange)) return;
    const boundTo = union(bindings.map((binding) => binding.exchange));
    this.report(
      file,
      childPath(path, 'exchange'),
      `queue "${value.queue}" is not bound to exchange "${value.exchange}" (exchanges it is bound to: ${listOrNone(boundTo)})`,
    );
  }
}

/** Adds a problem for each reference in `merged` to something `definitions` does not declare. */
export function checkReferences(merged: MergedDocuments, definitions: Definitions, problems: DefinitionProblem[]): void {
  const references = new References(
    {
      names: union(merged.declaredExchanges.names, definitions.exchanges.map((exchange) => exchange.name)),
      complete: merged.declaredExchanges.complete,
    },
    { names: union(merged.declaredQueues.names, definitions.queues.map((queue) => queue.name)), complete: merged.declaredQueues.complete },
    new Map(definitions.queues.map((queue) => [queue.name, queue.bindings])),
    problems,
  );
  for (const { value: queue, file, path } of merged.queues) {
    references.exchange(queue.exchange, file, childPath(path, 'exchange'));
    queue.bindings?.forEach((binding, index) => {
      references.exchange(binding.exchange, file, childPath(itemPath(childPath(path, 'bindings'), index), 'exchange'));
    });
    references.exchange(queue.deadLetterExchange, file, childPath(path, 'deadLetterExchange'));
  }
  if (merged.defaultQueue !== undefined) {
    references.queue(merged.defaultQueue.value, merged.defaultQueue.file, merged.defaultQueue.path);
  }
  for (const route of merged.routes) references.target(route);
  for (const entry of merged.schedule) references.target(entry);
}
