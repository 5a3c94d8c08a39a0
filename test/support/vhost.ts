import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { testBrokerUrl } from './broker-url';

const run = promisify(execFile);

/** A virtual host of a test's own, on the test broker's node, and its URL. */
export interface TestVhost {
  name: string;
  url: string;
  remove(): Promise<void>;
}

/**
 * Makes a virtual host for a test that broadcasts (remote control on `celery.pidbox`, events on
 * `celeryev`): those exchanges are shared by everything in a vhost, so a test on `/` would
 * reach, and be reached by, every other run on the broker. Adding a vhost and giving guest its
 * permissions disturbs nobody; `remove()` deletes it (and closes its connections).
 */
export async function createTestVhost(label: string): Promise<TestVhost> {
  const name = `warren-test-${label}-${randomBytes(4).toString('hex')}`;
  try {
    await run('rabbitmqctl', ['add_vhost', name], { timeout: 60_000 });
    await run('rabbitmqctl', ['set_permissions', '-p', name, 'guest', '.*', '.*', '.*'], { timeout: 60_000 });
  } catch (err) {
    throw new Error(
      `this test needs a virtual host of its own (rabbitmqctl add_vhost ${name} failed: ${(err as Error).message}); ` +
        'run it on a machine whose RabbitMQ rabbitmqctl can manage',
    );
  }
  const url = new URL(testBrokerUrl());
  url.pathname = `/${encodeURIComponent(name)}`;
  return {
    name,
    url: url.toString(),
    remove: async () => {
      await run('rabbitmqctl', ['delete_vhost', name], { timeout: 60_000 }).catch(() => undefined);
    },
  };
}
