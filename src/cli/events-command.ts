import type { Argv, CommandModule } from 'yargs';
import { FleetState, type CeleryEvent } from '../control';
import { maskUrl } from '../util/mask-url';
import { fleetApp, withFleetOptions, type FleetArgs } from './fleet-options';
import { renderFleet } from './events-view';

interface EventsArgs extends FleetArgs {
  dump: boolean;
}

/** Resolves on SIGINT or SIGTERM. */
export function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}

export const eventsCommand: CommandModule<object, EventsArgs> = {
  command: 'events',
  describe: 'watch the Celery events of the fleet (warren and Python workers): a live view, or --dump for one JSON line per event',
  builder: (yargs: Argv) =>
    withFleetOptions(yargs, { json: false, timeout: false })
      .option('dump', { type: 'boolean', default: false, describe: 'print each event as a JSON line, as it comes' })
      .example('$0 events', 'workers, their heartbeats, tasks per second, the latest failures; Ctrl-C ends it')
      .example('$0 events --dump | jq .type', 'every event, for scripts') as unknown as Argv<EventsArgs>,
  handler: async (args) => {
    const { app } = await fleetApp(args);
    const definitions = await app.definitions();
    const urls = args.broker ? [args.broker] : definitions.broker.urls;
    const state = new FleetState();
    const live = !args.dump;
    const onEvent = (event: CeleryEvent): void => {
      if (live) state.add(event);
      else process.stdout.write(`${JSON.stringify(event)}\n`);
    };
    let timer: NodeJS.Timeout | undefined;
    try {
      await app.receiveEvents(onEvent);
      // As Celery's receiver does: ask the workers for a heartbeat now, so the view fills at once.
      await app.control.heartbeat().catch(() => undefined);
      if (live) {
        const header = `warren events on ${urls.map(maskUrl).join(', ')}`;
        const draw = (): void => {
          const screen = renderFleet(state, Date.now(), header, process.stdout.columns ?? 120);
          // On a terminal the screen is redrawn in place each second; elsewhere a frame follows the last every 5 s.
          process.stdout.write(process.stdout.isTTY ? `\x1b[H\x1b[2J${screen}` : `${screen}\n`);
        };
        draw();
        timer = setInterval(draw, process.stdout.isTTY ? 1000 : 5000);
      }
      await untilSignal();
    } finally {
      clearInterval(timer);
      await app.close();
    }
  },
};
