import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

let cached: string | undefined;

/** The version in the first package.json named `name` at or above `dir`; undefined when there is none. */
export function versionAbove(dir: string, name: string): string | undefined {
  for (; ; dir = dirname(dir)) {
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (manifest.name === name && typeof manifest.version === 'string') return manifest.version;
    } catch {
      // No package.json here: look further up.
    }
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * warren's own version, from its package.json: the first one named `warren` above this file
 * (`src/util` when run from source, `dist/src/util` once compiled).
 */
export function packageVersion(): string {
  cached ??= versionAbove(__dirname, 'warren') ?? 'unknown';
  return cached;
}
