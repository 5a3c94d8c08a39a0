/**
 * Turns what yargs says about a bad command line into one line a person can act on, and finds
 * the command whose `--help` to point at. Pure: no yargs, no process.
 */

/** A command and its subcommands, by name (`schedule` → `add`, `list`, …). */
export interface CommandSpec {
  /** The yargs command string: `send <task> [arguments..]`. */
  readonly command: string;
  readonly subcommands?: readonly CommandSpec[];
}

/** The command named on the command line: `['schedule', 'add']` for `warren schedule add x --evry 10s`. */
export interface CommandPath {
  readonly names: readonly string[];
  /** The deepest command reached (undefined at the top level). */
  readonly spec: CommandSpec | undefined;
  /** Where the command line stopped matching: a word that names no subcommand, if there is one. */
  readonly unknownWord: string | undefined;
}

const nameOf = (spec: CommandSpec): string => spec.command.split(' ')[0];

/** Flags that every level knows and that take no value. */
const BOOLEAN_FLAGS = new Set(['-h', '--help', '--version']);

/**
 * Follows the words of `argv` down the command tree, as yargs does, up to the first command
 * without subcommands. Above that level no option takes a value, so an option there is one
 * yargs does not know, and (as yargs-parser does) it takes the next word as its value unless it
 * is written `--name=value`. The first word that is not a subcommand ends the walk.
 */
export function commandPath(argv: readonly string[], commands: readonly CommandSpec[]): CommandPath {
  const names: string[] = [];
  let spec: CommandSpec | undefined;
  let children: readonly CommandSpec[] = commands;
  for (let i = 0; i < argv.length && children.length > 0; i += 1) {
    const word = argv[i];
    if (word === '--') break;
    if (word.startsWith('-')) {
      if (!BOOLEAN_FLAGS.has(word) && !word.includes('=')) i += 1;
      continue;
    }
    const next = children.find((child) => nameOf(child) === word);
    if (!next) return { names, spec, unknownWord: word };
    names.push(word);
    spec = next;
    children = next.subcommands ?? [];
  }
  return { names, spec, unknownWord: undefined };
}

/** `warren schedule add --help`. */
export function helpHint(scriptName: string, path: CommandPath): string {
  return `see ${[scriptName, ...path.names].join(' ')} --help`;
}

const flag = (name: string): string => (name.length === 1 ? `-${name}` : `--${name}`);

function list(words: readonly string[]): string {
  return words.length <= 1 ? words.join('') : `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}`;
}

/** The `<required>` positionals of a command string. */
function requiredPositionals(spec: CommandSpec | undefined): string[] {
  return [...(spec?.command.matchAll(/<([^>]+)>/g) ?? [])].map((m) => m[1].replace(/\.\.$/, ''));
}

/**
 * One line for a usage failure yargs reported (`message`), in warren's words, without the help
 * hint. A command line that stops at a command with subcommands is told which ones there are.
 */
export function usageMessage(message: string, path: CommandPath, commands: readonly CommandSpec[]): string {
  const children = path.spec ? (path.spec.subcommands ?? []) : commands;
  if (children.length > 0) {
    const what = path.spec ? 'action' : 'command';
    const expected = list(children.map(nameOf));
    return path.unknownWord !== undefined
      ? `unknown ${what}: ${path.unknownWord} (expected ${expected})`
      : `missing ${what} (expected ${expected})`;
  }
  let m: RegExpMatchArray | null;
  if ((m = /^Unknown arguments?: (.*)$/s.exec(message))) {
    const words = m[1].split(', ');
    return `unknown argument${words.length > 1 ? 's' : ''}: ${words.join(', ')}`;
  }
  if ((m = /^Missing required arguments?: (.*)$/s.exec(message))) {
    const positionals = requiredPositionals(path.spec);
    const names = m[1].split(', ').map((name) => (positionals.includes(name) ? `<${name}>` : flag(name)));
    return `missing required argument${names.length > 1 ? 's' : ''}: ${names.join(', ')}`;
  }
  if ((m = /^Not enough non-option arguments: got (\d+), need at least (\d+)$/.exec(message))) {
    const missing = requiredPositionals(path.spec).slice(Number(m[1]));
    if (missing.length > 0) return `missing required argument${missing.length > 1 ? 's' : ''}: ${missing.map((p) => `<${p}>`).join(', ')}`;
  }
  if ((m = /^Not enough arguments following: (.*)$/.exec(message))) return `${flag(m[1])} needs a value`;
  if (message.startsWith('Invalid values:')) {
    const problems = [...message.matchAll(/Argument: ([^,]+), Given: (.*?), Choices: (.*)$/gm)].map(
      (p) => `invalid value ${p[2]} for ${flag(p[1])} (expected one of ${p[3].replace(/"/g, '')})`,
    );
    if (problems.length > 0) return problems.join('; ');
  }
  const oneLine = message.replace(/\s*\n\s*/g, '; ').trim();
  return oneLine.charAt(0).toLowerCase() + oneLine.slice(1);
}
