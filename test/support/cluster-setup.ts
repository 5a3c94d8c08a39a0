import { RabbitCluster } from './rabbitmq-cluster';

/**
 * Starts the three-node cluster the cluster tests share and records it in the state file, where
 * each test file finds it (`clusterForTests()`). With ATTACH=1 the cluster of `npm run cluster:up`
 * is used as it is.
 */
export default async function clusterSetup(): Promise<void> {
  const log = (line: string): void => void process.stdout.write(`[cluster] ${line}\n`);
  if (process.env.ATTACH === '1') {
    const cluster = RabbitCluster.attach({ log });
    await cluster.waitForRunning();
    log(`using the running cluster: ${cluster.urls.join(', ')}`);
    return;
  }
  process.stdout.write('\n');
  await RabbitCluster.start({ keep: true, log });
}
