import type { FailoverStrategy } from '../config/types';

/**
 * The order in which a connection tries its broker addresses, one round at a time (a round
 * tries every address once; the connection waits its backoff between failed rounds). The
 * strategies are kombu's, plus warren's default:
 *
 * - `in-order`: every round from the first address to the last, so a fleet prefers the first
 *   node; after a loss the round starts with the address after the lost one.
 * - `round-robin`: a cycle: each round starts with the address after the last one tried, so
 *   after a loss too the next node comes first, and nothing returns to the first address.
 * - `shuffle`: every round in a new random order, the first connect included, so a fleet of
 *   processes spreads over the nodes; after a loss the lost address comes last.
 *
 * After a loss no strategy tries the lost address first: a node that died is likely still down,
 * and one that does not answer costs a whole handshake timeout.
 */
export class FailoverOrder {
  private round: string[] = [];
  private position = 0;
  /** The address tried last (the one connected to, while connected). */
  private last: number | undefined;

  constructor(
    private readonly urls: readonly string[],
    private readonly strategy: FailoverStrategy = 'in-order',
    private readonly random: () => number = Math.random,
  ) {}

  /** The next address of the round under way, or undefined when it is over (or none began). */
  next(): string | undefined {
    if (this.position >= this.round.length) return undefined;
    const url = this.round[this.position];
    this.position += 1;
    this.last = this.urls.indexOf(url);
    return url;
  }

  /** Begins a round: after a loss of `lost`, one that tries it last. */
  begin(lost?: string): void {
    const lostIndex = lost === undefined ? -1 : this.urls.indexOf(lost);
    this.round = lostIndex >= 0 ? this.afterLoss(lostIndex) : this.fresh();
    this.position = 0;
  }

  /** Drops what is left of the round under way: the next `next()` is undefined. */
  end(): void {
    this.position = this.round.length;
  }

  private fresh(): string[] {
    switch (this.strategy) {
      case 'shuffle':
        return shuffled(this.urls, this.random);
      case 'round-robin':
        return this.last === undefined ? [...this.urls] : rotated(this.urls, this.last + 1);
      case 'in-order':
        return [...this.urls];
    }
  }

  private afterLoss(lost: number): string[] {
    if (this.strategy !== 'shuffle') return rotated(this.urls, lost + 1);
    const others = shuffled(
      this.urls.filter((_, i) => i !== lost),
      this.random,
    );
    return [...others, this.urls[lost]];
  }
}

/** `urls` starting at `start` (modulo its length), wrapping round. */
function rotated(urls: readonly string[], start: number): string[] {
  const from = start % urls.length;
  return [...urls.slice(from), ...urls.slice(0, from)];
}

/** A random permutation (Fisher-Yates). */
function shuffled(urls: readonly string[], random: () => number): string[] {
  const copy = [...urls];
  for (let i = copy.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy;
}
