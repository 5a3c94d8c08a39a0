import { existsSync } from 'node:fs';
import { connect } from 'amqplib';
import { DEFAULT_TEST_BROKER_URL, testBrokerUrl } from './broker-url';

async function answers(url: string): Promise<string | undefined> {
  try {
    const connection = await connect(url, { timeout: 3000 });
    await connection.close();
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

function dockerAvailable(): boolean {
  return Boolean(process.env.DOCKER_HOST) || existsSync('/var/run/docker.sock');
}

/**
 * Integration tests need a real RabbitMQ. Use WARREN_TEST_BROKER_URL (default the local one);
 * where none answers and a Docker engine is present, start one with testcontainers. With
 * neither, fail the run loudly: integration tests never skip silently.
 */
export default async function globalSetup(): Promise<void> {
  const url = testBrokerUrl();
  const problem = await answers(url);
  if (problem === undefined) return;
  if (!dockerAvailable()) {
    throw new Error(
      `integration tests need RabbitMQ: nothing answered at ${url.replace(/:[^:@/]*@/, ':***@')} (${problem}) and no Docker engine is available.\n` +
        `Start one with \`rabbitmq-server -detached\` or set WARREN_TEST_BROKER_URL (default ${DEFAULT_TEST_BROKER_URL.replace(/:[^:@/]*@/, ':***@')}).`,
    );
  }
  const { GenericContainer, Wait } = await import('testcontainers');
  const container = await new GenericContainer('rabbitmq:3.10-management')
    .withExposedPorts(5672)
    .withWaitStrategy(Wait.forLogMessage(/Server startup complete/))
    .start();
  process.env.WARREN_TEST_BROKER_URL = `amqp://guest:guest@${container.getHost()}:${container.getMappedPort(5672)}/`;
  (globalThis as { __WARREN_CONTAINER__?: { stop(): Promise<unknown> } }).__WARREN_CONTAINER__ = container;
}
