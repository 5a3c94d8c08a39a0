import { RabbitCluster } from './rabbitmq-cluster';

/** Stops the cluster the global setup started (an attached one stays, every node up). */
export default async function clusterTeardown(): Promise<void> {
  const log = (line: string): void => void process.stdout.write(`[cluster] ${line}\n`);
  const cluster = RabbitCluster.attach({ log });
  if (process.env.ATTACH === '1') await cluster.release();
  else await cluster.stop();
}
