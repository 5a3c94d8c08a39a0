import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

let cached: string | undefined;

/**
 * warren's own version, from its package.json: the first one named `warren` above this file
 * (`src/util` when run from source, `dist/src/util` once compiled).
 */
export function packageVersion(): string {
  if (cached !== undefined) return cached;
  for (let dir = __dirname; ; dir = dirname(dir)) {
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (manifest.name === 'warren' && typeof manifest.version === 'string') return (cached = manifest.version);
    } catch {
      // No package.json here: look further up.
    }
    if (dirname(dir) === dir) return (cached = 'unknown');
  }
}
