import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../src';
import { BrokerConnection, Publisher, type BrokerConnectionOptions } from '../../src/transport';
import { testBrokerUrl } from '../support/broker-url';
import { captureLogger } from '../support/capture-logger';
import { randomPrefix, writeDefinitionsFile } from '../support/broker';
import { TcpProxy } from '../support/tcp-proxy';
import { runCli } from '../support/worker-process';

/** The test broker URL with other credentials or another vhost. */
function brokerUrl(change: { password?: string; vhost?: string }): string {
  const url = new URL(testBrokerUrl());
  if (change.password !== undefined) url.password = change.password;
  if (change.vhost !== undefined) url.pathname = change.vhost;
  return url.toString();
}

const masked = (url: string): string => url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');

/** What `start()` rejected with, and after how long; `undefined` if it connected. */
async function firstConnect(urls: readonly string[], options: Partial<BrokerConnectionOptions> = {}) {
  const connection = new BrokerConnection({ urls, logger: createLogger({ level: 'silent' }), ...options });
  const began = Date.now();
  try {
    const error = await connection.start().then(
      () => undefined,
      (err: Error & { code?: string }) => err,
    );
    return { error, ms: Date.now() - began, connection };
  } finally {
    await connection.close();
  }
}

describe('first connect: the real cause at once', () => {
  let hung: TcpProxy;
  let refused: TcpProxy;

  beforeAll(async () => {
    hung = await TcpProxy.start({ mode: 'hang' });
    refused = await TcpProxy.start({ mode: 'refuse' });
  });

  afterAll(async () => {
    await hung.close();
    await refused.close();
  });

  test('a wrong password: WARREN_BROKER_AUTH at once, in the broker’s words', async () => {
    const url = brokerUrl({ password: 'wrong' });
    const { error, ms } = await firstConnect([url]);
    expect(error?.code).toBe('WARREN_BROKER_AUTH');
    expect(error?.message).toBe(
      `could not connect to the broker at ${masked(url)}: authentication refused for user "guest" ` +
        '(403 ACCESS_REFUSED: Login was refused using authentication mechanism PLAIN. For details see the broker logfile.)',
    );
    expect(ms).toBeLessThan(5000); // not the 10 s connect timeout
  });

  test('a vhost that does not exist: WARREN_BROKER_VHOST at once', async () => {
    const url = brokerUrl({ vhost: '/nope' });
    const { error, ms } = await firstConnect([url]);
    expect(error?.code).toBe('WARREN_BROKER_VHOST');
    expect(error?.message).toBe(
      `could not connect to the broker at ${masked(url)}: virtual host "nope" refused: it does not exist, or user "guest" may not use it ` +
        '(the broker closed the connection at connection.open)',
    );
    expect(ms).toBeLessThan(5000);
  });

  test('a port nothing listens on: WARREN_BROKER_UNAVAILABLE at once, saying refused', async () => {
    const { error, ms } = await firstConnect([refused.url()]);
    expect(error?.code).toBe('WARREN_BROKER_UNAVAILABLE');
    expect(error?.message).toBe(`could not connect to the broker at ${masked(refused.url())}: connection refused (ECONNREFUSED): nothing listens at 127.0.0.1:${refused.port}`);
    expect(ms).toBeLessThan(5000);
  });

  test('an address that accepts TCP and never answers: the attempt ends at the handshake timeout', async () => {
    const { error, ms } = await firstConnect([hung.url()], { handshakeTimeoutMs: 500 });
    expect(error?.code).toBe('WARREN_BROKER_UNAVAILABLE');
    expect(error?.message).toBe(`could not connect to the broker at ${masked(hung.url())}: no answer within 500 ms (TCP connect and AMQP handshake timed out)`);
    expect(ms).toBeLessThan(5000);
  });

  test('[hung, good]: the next address is tried, the connect succeeds, and the failed address is logged', async () => {
    const { logger, lines } = captureLogger('info');
    const connection = new BrokerConnection({ urls: [hung.url(), testBrokerUrl()], logger, handshakeTimeoutMs: 500 });
    try {
      await connection.start();
      const publisher = new Publisher(connection, { name: 'test', logger });
      await publisher.start();
      await publisher.publish({ exchange: 'amq.direct', routingKey: randomPrefix('nowhere'), body: Buffer.from('{}'), properties: {}, mandatory: false });
      await publisher.close();
    } finally {
      await connection.close();
    }
    const warned = lines().filter((line) => line.msg === 'connected to a later broker address; the ones before it failed');
    expect(warned).toHaveLength(1);
    expect(warned[0].failed).toEqual([`${masked(hung.url())}: no answer within 500 ms (TCP connect and AMQP handshake timed out)`]);
  });

  test('[refused, good]: connects to the second address', async () => {
    const { error } = await firstConnect([refused.url(), testBrokerUrl()]);
    expect(error).toBeUndefined();
  });

  test('every address hangs: connectTimeoutMs reports while an attempt still runs, naming each address', async () => {
    const second = await TcpProxy.start({ mode: 'hang' });
    try {
      // The second address still hangs at 1500 ms (its own timeout would end it at 2000 ms or later).
      const { error } = await firstConnect([hung.url(), second.url(), refused.url()], { connectTimeoutMs: 1500, handshakeTimeoutMs: 1000 });
      expect(error?.code).toBe('WARREN_BROKER_UNAVAILABLE');
      expect(error?.message).toBe(
        `could not connect to any of 3 broker addresses within 1500 ms: ${masked(hung.url())}: no answer within 1000 ms (TCP connect and AMQP handshake timed out); ` +
          `${masked(second.url())}: no answer yet (handshake still running); ${masked(refused.url())}: not tried`,
      );
    } finally {
      await second.close();
    }
  });

  test('several addresses failing for different reasons: each named with its own', async () => {
    const auth = brokerUrl({ password: 'wrong' });
    const { error } = await firstConnect([auth, refused.url()]);
    expect(error?.code).toBe('WARREN_BROKER_UNAVAILABLE');
    expect(error?.message).toBe(
      `could not connect to any of 2 broker addresses: ${masked(auth)}: authentication refused for user "guest" ` +
        '(403 ACCESS_REFUSED: Login was refused using authentication mechanism PLAIN. For details see the broker logfile.); ' +
        `${masked(refused.url())}: connection refused (ECONNREFUSED): nothing listens at 127.0.0.1:${refused.port}`,
    );
  });

  describe('TLS', () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-tls-'));
    let front: TcpProxy;

    beforeAll(async () => {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
      front = await TcpProxy.start({ tls: { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') } });
    });

    afterAll(async () => {
      await front.close();
      rmSync(dir, { recursive: true, force: true });
    });

    test('amqps:// to a plain AMQP port: WARREN_BROKER_TLS', async () => {
      const url = new URL(testBrokerUrl());
      url.protocol = 'amqps:';
      const { error } = await firstConnect([url.toString()]);
      expect(error?.code).toBe('WARREN_BROKER_TLS');
      expect(error?.message).toBe(
        `could not connect to the broker at ${masked(url.toString())}: TLS handshake failed (ERR_SSL_WRONG_VERSION_NUMBER: wrong version number): is it an amqps (TLS) port?`,
      );
    });

    test('a broker certificate nobody signed: WARREN_BROKER_TLS naming the certificate problem', async () => {
      const { error } = await firstConnect([front.url()]);
      expect(error?.code).toBe('WARREN_BROKER_TLS');
      expect(error?.message).toBe(`could not connect to the broker at ${masked(front.url())}: TLS certificate not accepted (DEPTH_ZERO_SELF_SIGNED_CERT: self-signed certificate)`);
    });
  });
});

describe('warren command line: a failed connect names its cause and prints a hint that fits it', () => {
  const prefix = randomPrefix('connect-cli');
  const defs = writeDefinitionsFile({ broker: { url: testBrokerUrl() }, queues: [{ name: `${prefix}.q` }], defaultQueue: `${prefix}.q` });
  let refused: TcpProxy;

  beforeAll(async () => {
    refused = await TcpProxy.start({ mode: 'refuse' });
  });

  afterAll(async () => {
    await refused.close();
    defs.remove();
  });

  const send = (broker: string) => runCli(['send', `${prefix}.task`, '--broker', broker, '--definitions', defs.file]);

  test('a wrong password: exit 1, the cause, the hint about credentials', async () => {
    const url = brokerUrl({ password: 'wrong' });
    const run = await send(url);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(
      `warren: WARREN_BROKER_AUTH: could not connect to the broker at ${masked(url)}: authentication refused for user "guest" ` +
        '(403 ACCESS_REFUSED: Login was refused using authentication mechanism PLAIN. For details see the broker logfile.)\n' +
        'Check the user name and password in the broker URL (--broker, WARREN_BROKER_URL or broker.url);\n' +
        'on the broker host, `rabbitmqctl authenticate_user <user> <password>` tests them.\n',
    );
  });

  test('a wrong vhost: exit 1, the cause, the hint about vhosts', async () => {
    const url = brokerUrl({ vhost: '/nope' });
    const run = await send(url);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      `warren: WARREN_BROKER_VHOST: could not connect to the broker at ${masked(url)}: virtual host "nope" refused: it does not exist, or user "guest" may not use it ` +
        '(the broker closed the connection at connection.open)\n' +
        'Check the virtual host at the end of the broker URL: amqp://host:5672/ is the default vhost "/",\n' +
        'amqp://host:5672/prod is "prod" (%2F encodes a slash). `rabbitmqctl list_vhosts` shows those that exist,\n' +
        '`rabbitmqctl list_user_permissions <user>` those the user may use.\n',
    );
  });

  test('a refused port: exit 1, the cause, and only then "Is RabbitMQ running?"', async () => {
    const run = await send(refused.url());
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      `warren: WARREN_BROKER_UNAVAILABLE: could not connect to the broker at ${masked(refused.url())}: connection refused (ECONNREFUSED): nothing listens at 127.0.0.1:${refused.port}\n` +
        'Is RabbitMQ running? Start one with `rabbitmq-server -detached` (Debian package rabbitmq-server),\n' +
        'or `docker compose -f rabbitmq/docker-compose.yml up -d`, or point --broker / WARREN_BROKER_URL at yours.\n',
    );
  });
});
