import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BrokerProbe, exampleTopology, randomPrefix, writeDefinitionsFile } from '../support/broker';
import { REPO_ROOT, runCli, WorkerProcess, type CliResult } from '../support/worker-process';

const MODULES = join(REPO_ROOT, 'test', 'fixtures', 'app-modules');

/** A definitions document with one queue, so `-Q nope` lists which definitions were read. */
function oneQueue(name: string): Record<string, unknown> {
  return { queues: [{ name }], defaultQueue: name };
}

/** The line a worker prints for `-Q nope`: it names the declared queues, before any connection. */
const unknownQueue = (declared: string): string => `warren: unknown queue "nope" (declared queues: ${declared})\n`;

/**
 * `-A` loads the tasks module with import() (ES modules with top-level await, CommonJS, .mjs,
 * .cjs, .js), and the definitions are, in this order: --definitions, WARREN_DEFINITIONS, the
 * app's own (createApp({ definitions })), ./definitions. Every run starts in a folder of its own,
 * away from the repository's definitions/.
 */
describe('warren command line: the tasks module and its definitions', () => {
  const prefix = randomPrefix('cli-app');
  const cwd = mkdtempSync(join(tmpdir(), 'warren-cwd-'));
  const appDefs = writeDefinitionsFile(oneQueue(`${prefix}.app-own`));
  const envDefs = writeDefinitionsFile(oneQueue(`${prefix}.from-env`));
  const flagDefs = writeDefinitionsFile(oneQueue(`${prefix}.from-flag`));
  const env = { WARREN_TEST_PREFIX: prefix, WARREN_TEST_APP_DEFINITIONS: appDefs.file, WARREN_DEFINITIONS: undefined };
  const cli = (args: readonly string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<CliResult> => runCli(args, { ...env, ...extraEnv }, 20_000, cwd);

  afterAll(() => {
    for (const defs of [appDefs, envDefs, flagDefs]) defs.remove();
    rmSync(cwd, { recursive: true, force: true });
  });

  describe('definitions precedence', () => {
    const ownApp = join(MODULES, 'own-definitions.cjs');

    test("the app's own definitions, an absolute path in code, are used from any working directory", async () => {
      const run = await cli(['worker', '-A', ownApp, '-Q', 'nope']);
      expect(run.stderr).toBe(unknownQueue(`${prefix}.app-own`));
      expect(run.code).toBe(2);
    });

    test("WARREN_DEFINITIONS wins over the app's own", async () => {
      const run = await cli(['worker', '-A', ownApp, '-Q', 'nope'], { WARREN_DEFINITIONS: envDefs.file });
      expect(run.stderr).toBe(unknownQueue(`${prefix}.from-env`));
    });

    test('--definitions wins over WARREN_DEFINITIONS and the app', async () => {
      const run = await cli(['worker', '-A', ownApp, '-Q', 'nope', '--definitions', flagDefs.file], { WARREN_DEFINITIONS: envDefs.file });
      expect(run.stderr).toBe(unknownQueue(`${prefix}.from-flag`));
    });

    test('./definitions of the working directory when nothing else names any', async () => {
      const local = join(cwd, 'definitions');
      mkdirSync(local);
      try {
        writeFileSync(join(local, 'warren.json'), JSON.stringify(oneQueue(`${prefix}.cwd`)));
        const withApp = await cli(['worker', '-A', join(MODULES, 'ts-default-export.js'), '-Q', 'nope'], { WARREN_TEST_APP_DEFINITIONS: undefined });
        expect(withApp.stderr).toBe(unknownQueue(`${prefix}.cwd`));
        const withoutApp = await cli(['send', 'some.task', '--queue', 'nope']);
        expect(withoutApp.stderr).toBe(unknownQueue(`${prefix}.cwd`));
      } finally {
        rmSync(local, { recursive: true, force: true });
      }
    });

    test('--help states the order', async () => {
      const run = await cli(['worker', '--help']);
      expect(run.stdout.replace(/\s+/g, ' ')).toContain(
        "The first of these wins: this flag, env WARREN_DEFINITIONS, the app's own (createApp({ definitions }) in the -A module), ./definitions",
      );
    });
  });

  describe('loading the module', () => {
    test('TypeScript\'s CommonJS "export default" loads', async () => {
      const run = await cli(['worker', '-A', join(MODULES, 'ts-default-export.js'), '-Q', 'nope']);
      expect(run.stderr).toBe(unknownQueue(`${prefix}.app-own`));
    });

    test('a path without its extension finds the .js file, as require() did', async () => {
      const run = await cli(['worker', '-A', join(MODULES, 'ts-default-export'), '-Q', 'nope']);
      expect(run.stderr).toBe(unknownQueue(`${prefix}.app-own`));
    });

    test("Celery's -A forms: a dotted name is a path (proj.tasks finds proj/tasks.mjs), and a folder's celery module", async () => {
      const reexport = `export { default } from ${JSON.stringify(pathToFileURL(join(MODULES, 'own-definitions.cjs')).href)};\n`;
      mkdirSync(join(cwd, 'proj'), { recursive: true });
      mkdirSync(join(cwd, 'web'), { recursive: true });
      writeFileSync(join(cwd, 'proj', 'tasks.mjs'), reexport);
      writeFileSync(join(cwd, 'web', 'celery.mjs'), reexport);
      try {
        for (const name of ['proj.tasks', './proj/tasks', 'web']) {
          const run = await cli(['worker', '-A', name, '-Q', 'nope']);
          expect({ name, stderr: run.stderr }).toEqual({ name, stderr: unknownQueue(`${prefix}.app-own`) });
        }
      } finally {
        rmSync(join(cwd, 'proj'), { recursive: true, force: true });
        rmSync(join(cwd, 'web'), { recursive: true, force: true });
      }
    });

    test('a module with no app names what it exports', async () => {
      const run = await cli(['worker', '-A', join(MODULES, 'no-app.mjs')]);
      expect(run.stderr).toBe(
        `warren: the tasks module ${join(MODULES, 'no-app.mjs')} exports no app (expected a default export or an export named "app" made by createApp; found exports: default, tasks)\n`,
      );
      expect(run.code).toBe(2);
    });

    test('a module that throws while loading: the error and where, exit 2', async () => {
      const module = join(MODULES, 'throws.mjs');
      const run = await cli(['worker', '-A', module]);
      const [first, second, third] = run.stderr.split('\n');
      expect(first).toBe(`warren: cannot load the tasks module ${module} (${module})`);
      expect(second).toBe('  caused by: Error: the tasks module could not start: DATABASE_URL is not set');
      expect(third).toContain(`${module}:3:7`);
      expect(run.code).toBe(2);
    });

    test('a module that does not exist says so in one line', async () => {
      const run = await cli(['worker', '-A', './missing/tasks.js']);
      const path = join(cwd, 'missing', 'tasks.js');
      expect(run.stderr).toBe(
        `warren: cannot find the tasks module ./missing/tasks.js (no file ${path}, nor ${join(path, 'celery')}, with or without .js, .mjs, .cjs or .json, nor an index file in such a folder)\n`,
      );
      expect(run.code).toBe(2);
    });
  });

  describe('an ES module with top-level await', () => {
    const topology = exampleTopology(prefix);
    const defs = writeDefinitionsFile(topology.definitions);
    let probe: BrokerProbe;
    let worker: WorkerProcess | undefined;

    beforeAll(async () => {
      probe = await BrokerProbe.open();
    });

    afterAll(async () => {
      await worker?.stop('SIGKILL');
      await probe.cleanUp(Object.values(topology.queues), topology.exchanges);
      await probe.close();
      defs.remove();
    });

    test('runs as a worker from another working directory, and its tasks run', async () => {
      worker = new WorkerProcess(
        ['-A', join(MODULES, 'esm-top-level-await.mjs'), '-Q', topology.queues.default, '-c', '1', '--definitions', defs.file],
        { ...env, WARREN_TEST_APP_DEFINITIONS: undefined },
      );
      await worker.ready;
      const run = await cli(['send', `${prefix}.esm.add`, '2', '3', '--wait', '--definitions', defs.file]);
      expect(run.stderr).toBe('');
      expect(run.stdout.trim().split('\n')[1]).toBe('1005');
      expect(run.code).toBe(0);
    });
  });
});
