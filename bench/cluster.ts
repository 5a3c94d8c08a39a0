/**
 * `npm run cluster:up` / `npm run cluster:down` / `npm run cluster -- <command>`: a local
 * three-node RabbitMQ cluster on 127.0.0.1:5681-5683 (see test/support/rabbitmq-cluster.ts).
 *
 *   up              start the nodes, form the cluster, leave it running (prints the URLs)
 *   down            kill the nodes and remove their folders (also of clusters a killed test left)
 *   status          nodes running, and each quorum queue's leader and members
 *   kill <i>        SIGKILL node i
 *   restart <i>     start node i again and wait until it rejoined
 *   leader <queue>  the node leading a quorum queue
 */
import { RabbitCluster } from '../test/support/rabbitmq-cluster';

async function main(argv: readonly string[]): Promise<void> {
  const [command, arg] = argv;
  const log = (line: string): void => console.log(line);
  switch (command) {
    case 'up': {
      const cluster = await RabbitCluster.start({ keep: true, log });
      console.log(`broker.urls:\n${cluster.urls.map((url) => `  - ${url}`).join('\n')}`);
      return;
    }
    case 'down': {
      // The recorded cluster, and any other this module left running (a killed test run's).
      const removed = RabbitCluster.stopAll();
      console.log(removed.length > 0 ? `stopped and removed ${removed.join(', ')}` : 'no cluster was running');
      return;
    }
    case 'status': {
      const cluster = RabbitCluster.attach({ log });
      for (const node of cluster.nodes) console.log(`${node.name} ${node.url} ${cluster.isUp(node.index) ? 'up' : 'down'}`);
      console.log(`running: ${(await cluster.runningNodes()).join(', ')}`);
      for (const queue of await cluster.quorumQueues()) {
        console.log(`quorum queue ${queue.name}: leader ${queue.leader}, members ${queue.members.join(' ')}, online ${queue.online.join(' ')}`);
      }
      return;
    }
    case 'kill':
      await RabbitCluster.attach({ log }).kill(nodeIndex(arg));
      return;
    case 'restart':
      await RabbitCluster.attach({ log }).restart(nodeIndex(arg));
      return;
    case 'leader':
      if (!arg) throw new Error('leader needs a queue name');
      console.log(await RabbitCluster.attach({ log }).leaderOf(arg));
      return;
    default:
      throw new Error(`unknown command "${command ?? ''}"; use up, down, status, kill <i>, restart <i> or leader <queue>`);
  }
}

function nodeIndex(arg: string | undefined): number {
  const index = Number(arg);
  if (!Number.isInteger(index) || index < 1) throw new Error(`expected a node number (1, 2, 3), got "${arg ?? ''}"`);
  return index;
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
