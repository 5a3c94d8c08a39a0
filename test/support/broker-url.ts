/** The broker integration tests use. */
export const DEFAULT_TEST_BROKER_URL = 'amqp://guest:guest@127.0.0.1:5672/';

export function testBrokerUrl(): string {
  return process.env.WARREN_TEST_BROKER_URL ?? DEFAULT_TEST_BROKER_URL;
}
