import { resolve } from 'node:path';
import { App } from '../app';
import { AppLoadError } from '../errors';

function isApp(value: unknown): value is App {
  // Duck-typed: the user's module may import another copy of warren than the CLI's.
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as App).task === 'function' &&
    typeof (value as App).startWorker === 'function' &&
    typeof (value as App).configure === 'function'
  );
}

/**
 * Loads the tasks module given to `-A`: its default export, or its export named `app`, must be
 * an app made by `createApp`. The path is resolved from the current directory.
 */
export function loadApp(modulePath: string): App {
  const path = resolve(process.cwd(), modulePath);
  let loaded: Record<string, unknown>;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    loaded = require(path) as Record<string, unknown>;
  } catch (err) {
    throw new AppLoadError(`cannot load the tasks module ${modulePath} (resolved to ${path})`, err);
  }
  const candidate = isApp(loaded.default) ? loaded.default : isApp(loaded.app) ? loaded.app : isApp(loaded) ? loaded : undefined;
  if (!candidate) {
    throw new AppLoadError(
      `the tasks module ${modulePath} exports no app (expected a default export or an export named "app" made by createApp; found exports: ${Object.keys(loaded).join(', ') || 'none'})`,
    );
  }
  return candidate;
}
