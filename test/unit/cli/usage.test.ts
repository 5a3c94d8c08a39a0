import { commandPath, helpHint, usageMessage, type CommandSpec } from '../../../src/cli/usage';

const COMMANDS: CommandSpec[] = [
  { command: 'worker' },
  { command: 'send <task> [args..]' },
  { command: 'topology <action>', subcommands: [{ command: 'apply' }, { command: 'export' }] },
  { command: 'schedule <action>', subcommands: [{ command: 'add <name>' }, { command: 'list' }] },
];

const message = (yargsMessage: string, argv: string[]): string => {
  const path = commandPath(argv, COMMANDS);
  return `${usageMessage(yargsMessage, path, COMMANDS)} (${helpHint('warren', path)})`;
};

describe('commandPath', () => {
  test('follows subcommands and stops at a command without any', () => {
    expect(commandPath(['schedule', 'add', 'list', '--evry', '10s'], COMMANDS).names).toEqual(['schedule', 'add']);
    expect(commandPath(['send', 'topology'], COMMANDS).names).toEqual(['send']);
  });

  test('skips an option above the command together with its value, as yargs does', () => {
    expect(commandPath(['--broker', 'amqp://x', 'send', 't'], COMMANDS).names).toEqual(['send']);
    expect(commandPath(['--broker=amqp://x', 'send'], COMMANDS).names).toEqual(['send']);
    expect(commandPath(['--help', 'send'], COMMANDS).names).toEqual(['send']);
    expect(commandPath(['--definitions', 'x'], COMMANDS)).toEqual({ names: [], spec: undefined, unknownWord: undefined });
  });

  test('names the first word that is no command', () => {
    expect(commandPath(['frob', 'send'], COMMANDS).unknownWord).toBe('frob');
    expect(commandPath(['schedule', 'frob'], COMMANDS)).toMatchObject({ names: ['schedule'], unknownWord: 'frob' });
  });
});

describe('usageMessage', () => {
  test('an unknown flag, with the command whose help to read', () => {
    expect(message('Unknown argument: wiat', ['send', 'w.sync', '3', '--wiat'])).toBe('unknown argument: wiat (see warren send --help)');
    expect(message('Unknown arguments: wiat, evry', ['send', 'x', '--wiat', '--evry'])).toBe('unknown arguments: wiat, evry (see warren send --help)');
    expect(message('Unknown argument: evry', ['schedule', 'add', 'x', '--evry', '10s'])).toBe(
      'unknown argument: evry (see warren schedule add --help)',
    );
  });

  test('a missing required option or positional', () => {
    expect(message('Missing required argument: app', ['worker'])).toBe('missing required argument: --app (see warren worker --help)');
    expect(message('Not enough non-option arguments: got 0, need at least 1', ['send'])).toBe(
      'missing required argument: <task> (see warren send --help)',
    );
    expect(message('Missing required arguments: name, task', ['schedule', 'add'])).toBe(
      'missing required arguments: <name>, --task (see warren schedule add --help)',
    );
  });

  test('an option without its value', () => {
    expect(message('Not enough arguments following: A', ['worker', '-A'])).toBe('-A needs a value (see warren worker --help)');
    expect(message('Not enough arguments following: definitions', ['send', 'x', '--definitions'])).toBe(
      '--definitions needs a value (see warren send --help)',
    );
  });

  test('a value outside the choices, on one line', () => {
    expect(message('Invalid values:\n  Argument: log-level, Given: "nope", Choices: "info", "warn"', ['send', 'x', '-l', 'nope'])).toBe(
      'invalid value "nope" for --log-level (expected one of info, warn) (see warren send --help)',
    );
  });

  test('a missing or unknown command or action lists the ones there are', () => {
    expect(message('Not enough non-option arguments: got 0, need at least 1', [])).toBe(
      'missing command (expected worker, send, topology or schedule) (see warren --help)',
    );
    expect(message('Unknown argument: frob', ['frob'])).toBe('unknown command: frob (expected worker, send, topology or schedule) (see warren --help)');
    expect(message('Not enough non-option arguments: got 0, need at least 1', ['schedule'])).toBe(
      'missing action (expected add or list) (see warren schedule --help)',
    );
    expect(message('anything', ['topology', 'frob'])).toBe('unknown action: frob (expected apply or export) (see warren topology --help)');
  });

  test('anything else becomes one line', () => {
    expect(message('Arguments a and b are\n mutually exclusive', ['worker'])).toBe('arguments a and b are; mutually exclusive (see warren worker --help)');
  });
});
