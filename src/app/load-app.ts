import { join, resolve } from 'node:path';
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

/** The file a base path names: itself, with .js/.json (Node's lookup), .mjs or .cjs, or its index. */
function resolveFile(path: string): string | undefined {
  for (const candidate of [path, `${path}.mjs`, `${path}.cjs`, join(path, 'index.mjs'), join(path, 'index.cjs')]) {
    try {
      return require.resolve(candidate);
    } catch {
      // the next one
    }
  }
  return undefined;
}

/**
 * The file `-A` names, from the current directory, and the base paths looked at: the path; for a
 * dotted name as Celery's (`proj.tasks`, no slash, no .js), that as a path (`proj/tasks`); then
 * `celery` in the folder (Celery's `-A proj` finds `proj.celery`).
 */
function findModule(modulePath: string): { file: string | undefined; looked: string[] } {
  const path = resolve(process.cwd(), modulePath);
  const dotted = !/[\\/]/.test(modulePath) && /^[\w-]+(\.[\w-]+)+$/.test(modulePath) && !/\.(m?js|cjs|json)$/.test(modulePath);
  const base = dotted ? resolve(process.cwd(), ...modulePath.split('.')) : path;
  const looked = [...new Set([path, base, join(base, 'celery')])];
  for (const candidate of looked) {
    const file = resolveFile(candidate);
    if (file !== undefined) return { file, looked };
  }
  return { file: undefined, looked };
}

/**
 * Loads the tasks module given to `-A` with `import()`, so it may be an ES module (with top-level
 * await), CommonJS, `.mjs`, `.cjs` or `.js`. Its default export, or its export named `app`, must
 * be an app made by `createApp`. The path is resolved from the current directory, with or
 * without its extension; as for Celery's `-A`, a dotted name (`proj.tasks`) is a path
 * (`proj/tasks`), and a folder without an index may hold the app in `celery.js`.
 *
 * The compiler keeps `import()` as it is (tsconfig `module: node16`); with `module: commonjs`
 * it would become `require()`, which cannot load an ES module with top-level await.
 */
export async function loadApp(modulePath: string): Promise<App> {
  const { file, looked } = findModule(modulePath);
  if (file === undefined) {
    throw new AppLoadError(`cannot find the tasks module ${modulePath} (no file ${looked.join(', nor ')}, with or without .js, .mjs, .cjs or .json, nor an index file in such a folder)`);
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
