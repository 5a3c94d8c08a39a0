import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { App } from './app';
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

function property(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

/**
 * Where the app may be in a loaded module: `export default app` or `export const app` of an ES
 * module; `module.exports = app` or `exports.app = app` of a CommonJS one (its `module.exports`
 * is the namespace's `default`); and TypeScript's CommonJS output of `export default app`
 * (`exports.default`, so `default.default`).
 */
function findApp(namespace: Record<string, unknown>): App | undefined {
  const main = namespace.default;
  return [main, namespace.app, property(main, 'app'), property(main, 'default')].find(isApp);
}

/**
 * Loads the tasks module given to `-A` with `import()`, so it may be an ES module (with top-level
 * await), CommonJS, `.mjs`, `.cjs` or `.js`. Its default export, or its export named `app`, must
 * be an app made by `createApp`. The path is resolved from the current directory.
 *
 * The compiler keeps `import()` as it is (tsconfig `module: node16`); with `module: commonjs`
 * it would become `require()`, which cannot load an ES module with top-level await.
 */
export async function loadApp(modulePath: string): Promise<App> {
  const path = resolve(process.cwd(), modulePath);
  let file: string;
  try {
    // Node's CommonJS lookup (`./dist/tasks` finds tasks.js or tasks/index.js); import() alone wants the exact file.
    file = require.resolve(path);
  } catch {
    throw new AppLoadError(`cannot find the tasks module ${modulePath} (no file ${path}, nor with .js, .json or /index.js)`);
  }
  let namespace: Record<string, unknown>;
  try {
    namespace = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (err) {
    throw new AppLoadError(`cannot load the tasks module ${modulePath} (${file})`, err);
  }
  const app = findApp(namespace);
  if (!app) {
    const exported = Object.keys(namespace).filter((key) => key !== 'module.exports');
    throw new AppLoadError(
      `the tasks module ${modulePath} exports no app (expected a default export or an export named "app" made by createApp; found exports: ${exported.join(', ') || 'none'})`,
    );
  }
  return app;
}
