import yargs from 'yargs';
import { ExitCode, reportError } from './exit-codes';
import { beatCommand } from './beat-command';
import { scheduleCommand } from './schedule-command';
import { sendCommand } from './send-command';
import { topologyCommand } from './topology-command';
import { workerCommand } from './worker-command';

/** Runs the `warren` command line; resolves to the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  let exitCode: number = ExitCode.ok;
  const parser = yargs([...argv])
    .scriptName('warren')
    .usage('$0 <command> [options]\n\nRabbitMQ task routing for Node.js, speaking Celery\'s protocol.')
    .command(workerCommand)
    .command(sendCommand)
    .command(topologyCommand)
    .command(beatCommand)
    .command(scheduleCommand)
    .demandCommand(1, 'name a command')
    .strict()
    .help()
    .alias('help', 'h')
    .version()
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .exitProcess(false)
    .fail((message, err, y) => {
      if (err) throw err;
      process.stderr.write(`${y.help()}\n\nwarren: ${message}\n`);
      exitCode = ExitCode.invalidInput;
    });
  try {
    await parser.parseAsync();
  } catch (err) {
    exitCode = reportError(err, (text) => process.stderr.write(text));
  }
  return exitCode;
}
