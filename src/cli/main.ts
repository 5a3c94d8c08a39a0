import yargs from 'yargs';
import { UsageError } from '../errors';
import { ExitCode, reportError } from './exit-codes';
import { beatCommand } from './beat-command';
import { scheduleActions, scheduleCommand } from './schedule-command';
import { sendCommand } from './send-command';
import { topologyActions, topologyCommand } from './topology-command';
import { commandPath, helpHint, usageMessage, type CommandSpec } from './usage';
import { workerCommand } from './worker-command';
import { controlActions, controlCommand } from './control-command';
import { dashboardCommand } from './dashboard-command';
import { eventsCommand } from './events-command';
import { inspectActions, inspectCommand } from './inspect-command';
import { purgeCommand } from './purge-command';
import { resultCommand } from './result-command';
import { queuesCommand } from './queues-command';
import { statusCommand } from './status-command';
import { reportCommand } from './report-command';

const spec = (module: { command?: string | readonly string[] }, subcommands?: readonly { command?: string | readonly string[] }[]): CommandSpec => ({
  command: String(module.command),
  subcommands: subcommands?.map((sub) => spec(sub)),
});

/** The command tree, for finding which command's `--help` a usage error points at. */
const COMMANDS: readonly CommandSpec[] = [
  spec(workerCommand),
  spec(sendCommand),
  // `warren call`, send's alias (Celery's `celery call`): the same positionals.
  { command: String(sendCommand.command).replace(/^send\b/, 'call') },
  spec(resultCommand),
  spec(topologyCommand, topologyActions),
  spec(beatCommand),
  spec(scheduleCommand, scheduleActions),
  spec(inspectCommand, inspectActions),
  spec(controlCommand, controlActions),
  spec(statusCommand),
  spec(queuesCommand),
  spec(purgeCommand),
  spec(eventsCommand),
  spec(dashboardCommand),
  spec(reportCommand),
];

/**
 * Runs the `warren` command line; resolves to the process exit code.
 *
 * A usage error (an unknown or missing argument, a bad value) is reported in one line with a
 * pointer to the command's `--help`, and the command does not run: exit 2 means nothing was
 * declared, sent or consumed.
 */
export async function main(argv: readonly string[]): Promise<number> {
  const path = commandPath(argv, COMMANDS);
  const parser = yargs([...argv])
    .scriptName('warren')
    .usage('$0 <command> [options]\n\nRabbitMQ task routing for Node.js, speaking Celery\'s protocol.')
    .command(workerCommand)
    .command(sendCommand)
    .command(resultCommand)
    .command(topologyCommand)
    .command(beatCommand)
    .command(scheduleCommand)
    .command(inspectCommand)
    .command(controlCommand)
    .command(statusCommand)
    .command(queuesCommand)
    .command(purgeCommand)
    .command(eventsCommand)
    .command(dashboardCommand)
    .command(reportCommand)
    .demandCommand(1)
    .strict()
    .help()
    .alias('help', 'h')
    .version()
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .exitProcess(false)
    .fail((message: string | undefined, err: Error | undefined) => {
      // Throwing here is what keeps yargs from running the command's handler after a failed check.
      if (err !== undefined && err.name !== 'YError') throw err; // the command's own error
      throw new UsageError(usageMessage(message ?? err?.message ?? 'invalid command line', path, COMMANDS));
    });
  try {
    await parser.parseAsync();
    return ExitCode.ok;
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`warren: ${err.message} (${helpHint('warren', path)})\n`);
      return ExitCode.invalidInput;
    }
    return reportError(err, (text) => process.stderr.write(text));
  }
}
