import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDefinitions } from '../../../src/config';
import { problemsOfAsync } from './problems';

const YAML_EXAMPLE = `
exchanges:
  - { name: default, type: direct }
  - { name: for_task1, type: direct }
queues:
  - { name: default, exchange: default, routingKey: default }
  - { name: for_task1, exchange: for_task1, routingKey: task_a }
defaultQueue: default
routes:
  app1.tasks1.deal1: { queue: for_task1, routingKey: task_a }
  "/^app3\\\\./": for_task1
schedule:
  one-off: { task: app1.tasks1.deal1, at: 2026-12-01T08:00:00+08:00, startAt: 2026-01-01T00:00:00Z }
`;

const JSON_EXAMPLE = JSON.stringify({
  exchanges: [
    { name: 'default', type: 'direct' },
    { name: 'for_task1', type: 'direct' },
  ],
  queues: [
    { name: 'default', exchange: 'default', routingKey: 'default' },
    { name: 'for_task1', exchange: 'for_task1', routingKey: 'task_a' },
  ],
  defaultQueue: 'default',
  routes: { 'app1.tasks1.deal1': { queue: 'for_task1', routingKey: 'task_a' }, '/^app3\\./': 'for_task1' },
  schedule: { 'one-off': { task: 'app1.tasks1.deal1', at: '2026-12-01T08:00:00+08:00', startAt: '2026-01-01T00:00:00Z' } },
});

describe('loadDefinitions', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'warren-config-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function write(name: string, text: string): Promise<string> {
    const file = join(dir, name);
    await writeFile(file, text);
    return file;
  }

  test('reads YAML and JSON into the same definitions, unquoted YAML timestamps included', async () => {
    const fromYaml = await loadDefinitions(await write('warren.yaml', YAML_EXAMPLE), { env: {} });
    const fromJson = await loadDefinitions(await write('warren.json', JSON_EXAMPLE), { env: {} });
    expect({ ...fromYaml, sources: [] }).toEqual({ ...fromJson, sources: [] });
    expect(fromYaml.routes.map((route) => [route.pattern, route.kind])).toEqual([
      ['app1.tasks1.deal1', 'exact'],
      ['/^app3\\./', 'regex'],
    ]);
    expect(fromYaml.schedule[0].schedule).toEqual({ kind: 'at', at: new Date('2026-12-01T00:00:00Z') });
    expect(fromYaml.schedule[0].startAt).toEqual(new Date('2026-01-01T00:00:00Z'));
  });

  test('reads the .yml extension too', async () => {
    const definitions = await loadDefinitions(await write('warren.yml', 'timezone: Europe/Berlin\n'), { env: {} });
    expect(definitions.timezone).toBe('Europe/Berlin');
  });

  test('merges a folder\'s definitions files in name order and ignores other files and subfolders', async () => {
    await write('b-queues.yaml', 'queues:\n  - { name: q2, exchange: jobs }\n');
    await write('a-exchanges.json', JSON.stringify({ exchanges: [{ name: 'jobs', type: 'direct' }], queues: [{ name: 'q1', exchange: 'jobs' }] }));
    await write('c-defaults.yml', 'defaultQueue: q1\n');
    await write('README.md', '# not definitions\n');
    await mkdir(join(dir, 'nested.yaml'));
    const definitions = await loadDefinitions(dir, { env: {} });
    expect(definitions.sources).toEqual([join(dir, 'a-exchanges.json'), join(dir, 'b-queues.yaml'), join(dir, 'c-defaults.yml')]);
    expect(definitions.queues.map((queue) => queue.name)).toEqual(['q1', 'q2']);
    expect(definitions.defaultQueue).toBe('q1');
  });

  test('names the right file for each problem in a folder', async () => {
    const first = await write('a.yaml', 'queues:\n  - { name: q1, type: quorom }\ndefaultQueue: q1\n');
    const second = await write('b.yaml', 'routes:\n  "x.*": q9\n');
    expect(await problemsOfAsync(() => loadDefinitions(dir, { env: {} }))).toEqual([
      `${first}: queues[0].type: "quorom" is not a queue type (expected one of classic, quorum)`,
      `${second}: routes["x.*"].queue: queue "q9" is not declared (declared queues: q1)`,
    ]);
  });

  test('takes the broker from the brokerUrl option, then WARREN_BROKER_URL, then the file', async () => {
    const file = await write('warren.yaml', 'broker:\n  url: amqp://file/\n');
    const env = { WARREN_BROKER_URL: 'amqp://env/' };
    expect((await loadDefinitions(file, { env: {} })).broker.urls).toEqual(['amqp://file/']);
    expect((await loadDefinitions(file, { env })).broker.urls).toEqual(['amqp://env/']);
    expect((await loadDefinitions(file, { env, brokerUrl: 'amqp://flag/' })).broker.urls).toEqual(['amqp://flag/']);
  });

  test('reads WARREN_BROKER_URL from process.env when no env is given', async () => {
    const file = await write('warren.yaml', 'broker:\n  url: amqp://file/\n');
    const saved = process.env.WARREN_BROKER_URL;
    process.env.WARREN_BROKER_URL = 'amqp://process-env/';
    try {
      expect((await loadDefinitions(file)).broker.urls).toEqual(['amqp://process-env/']);
    } finally {
      if (saved === undefined) delete process.env.WARREN_BROKER_URL;
      else process.env.WARREN_BROKER_URL = saved;
    }
  });

  test('reports a location that does not exist', async () => {
    const missing = join(dir, 'nowhere');
    expect(await problemsOfAsync(() => loadDefinitions(missing))).toEqual([
      `${missing}: no such file or folder (expected a definitions file or a folder of them)`,
    ]);
  });

  test('reports a folder with no definitions files', async () => {
    await write('notes.txt', 'nothing here');
    expect(await problemsOfAsync(() => loadDefinitions(dir))).toEqual([`${dir}: no .yaml, .yml or .json file in this folder (expected at least one)`]);
  });

  test('reports a file with another extension', async () => {
    const file = await write('warren.toml', 'x = 1');
    expect(await problemsOfAsync(() => loadDefinitions(file))).toEqual([
      `${file}: not a .yaml, .yml or .json file (expected a definitions file or a folder of them)`,
    ]);
  });

  test('reports a YAML syntax error with its line and column', async () => {
    const file = await write('warren.yaml', 'queues:\n  - { name: q1, exchange: jobs\ndefaultQueue: q1\n');
    expect(await problemsOfAsync(() => loadDefinitions(file))).toEqual([
      `${file}: line 3, column 1: Flow map in block collection must be sufficiently indented and end with a } (expected valid YAML)`,
    ]);
  });

  test('reports a key written twice in one YAML mapping', async () => {
    const file = await write('warren.yaml', 'timezone: UTC\ndefaultQueue: q1\ntimezone: Europe/Berlin\n');
    expect(await problemsOfAsync(() => loadDefinitions(file))).toEqual([`${file}: line 3, column 1: Map keys must be unique (expected valid YAML)`]);
  });

  test('reports a JSON syntax error with its line and column', async () => {
    const file = await write('warren.json', '{\n  "timezone": "UTC",\n  "defaultQueue" "q1"\n}\n');
    expect(await problemsOfAsync(() => loadDefinitions(file))).toEqual([
      `${file}: line 3, column 18: Unexpected string (expected valid JSON)`,
    ]);
  });

  test('reports truncated JSON where it ends', async () => {
    const file = await write('warren.json', '{\n  "timezone": "UTC",\n');
    expect(await problemsOfAsync(() => loadDefinitions(file))).toEqual([
      `${file}: line 3, column 1: Expected double-quoted property name (expected valid JSON)`,
    ]);
  });

  test('reports an empty JSON file, which is not JSON', async () => {
    const file = await write('warren.json', '');
    expect(await problemsOfAsync(() => loadDefinitions(file))).toEqual([`${file}: line 1, column 1: Unexpected end of input (expected valid JSON)`]);
  });

  test('reports syntax errors of every file in a folder before validating any', async () => {
    const first = await write('a.json', '{');
    const second = await write('b.yaml', 'a: 1\na: 2\n');
    await write('c.yaml', 'timezone: Mars/Olympus\n');
    expect(await problemsOfAsync(() => loadDefinitions(dir))).toEqual([
      `${first}: line 1, column 2: Expected property name or '}' (expected valid JSON)`,
      `${second}: line 2, column 1: Map keys must be unique (expected valid YAML)`,
    ]);
  });

  test('accepts an empty file', async () => {
    const definitions = await loadDefinitions(await write('warren.yaml', '# nothing yet\n'), { env: {} });
    expect(definitions.defaultQueue).toBe('celery');
  });

  test('loads the example fixture of the design', async () => {
    const definitions = await loadDefinitions('test/fixtures/definitions/warren.yaml', { env: {} });
    expect(definitions.sources).toEqual(['test/fixtures/definitions/warren.yaml']);
    expect(definitions.queues.map((queue) => [queue.name, queue.type])).toEqual([
      ['default', 'classic'],
      ['for_task1', 'classic'],
      ['for_task2', 'quorum'],
    ]);
    expect(definitions.routes.map((route) => route.kind)).toEqual(['exact', 'glob', 'regex', 'exact']);
    expect(definitions.schedule.map((entry) => entry.schedule.kind)).toEqual(['every', 'cron', 'at']);
  });
});
