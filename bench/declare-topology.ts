/**
 * `npm run build && node dist/bench/declare-topology.js [queues] [delayMs...]`: how long
 * `declareOnOwnChannel` takes for one direct exchange and `queues` durable queues (default 500),
 * each bound to it, straight to the broker and through a loopback TCP proxy that adds `delayMs`
 * each way (so a round trip takes 2 × delayMs more). Each figure is the best of 3 runs; a second
 * run declares what exists already, which costs the broker less than creating it.
 *
 *   node dist/bench/declare-topology.js 500 0 50
 */
import { randomBytes } from 'node:crypto';
import { connect } from 'amqplib';
import { createLogger } from '../src';
import { declareOnOwnChannel, type Topology } from '../src/topology';
import { BrokerConnection } from '../src/transport';
import { TcpProxy } from '../test/support/tcp-proxy';

const BROKER = process.env.WARREN_BROKER_URL ?? 'amqp://guest:guest@127.0.0.1:5672/';
const RUNS = 3;

function topology(prefix: string, count: number): Topology {
  const options = { durable: true, autoDelete: false, arguments: {} };
  const queues = Array.from({ length: count }, (_, i) => ({ name: `${prefix}.q${i}`, options }));
  return {
    exchanges: [{ name: `${prefix}.x`, type: 'direct', options }],
    queues,
    bindings: queues.map((q, i) => ({ queue: q.name, exchange: `${prefix}.x`, routingKey: `k${i}`, arguments: {} })),
  };
}

async function timeDeclare(url: string, declared: Topology): Promise<number[]> {
  const connection = new BrokerConnection({ urls: [url], logger: createLogger({ level: 'warn' }) });
  await connection.start();
  try {
    const times: number[] = [];
    for (let run = 0; run < RUNS; run += 1) {
      const began = process.hrtime.bigint();
      await declareOnOwnChannel(connection, declared);
      times.push(Number(process.hrtime.bigint() - began) / 1e6);
    }
    return times;
  } finally {
    await connection.close();
  }
}

async function cleanUp(declared: Topology): Promise<void> {
  const model = await connect(BROKER);
  try {
    const channel = await model.createChannel();
    await Promise.all(declared.queues.map((q) => channel.deleteQueue(q.name)));
    await channel.deleteExchange(declared.exchanges[0].name);
  } finally {
    await model.close();
  }
}

function address(url: string): { host: string; port: number } {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: Number(parsed.port || 5672) };
}

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? 500);
  const delays = process.argv.length > 3 ? process.argv.slice(3).map(Number) : [0];
  for (const delayMs of delays) {
    const declared = topology(`bench.declare.${randomBytes(4).toString('hex')}`, count);
    const proxy = delayMs > 0 ? await TcpProxy.start({ delayMs, target: address(BROKER) }) : undefined;
    try {
      const times = await timeDeclare(proxy ? proxy.url(BROKER) : BROKER, declared);
      const route = proxy ? `through a proxy adding ${delayMs} ms each way` : 'straight to the broker';
      console.log(
        `${count} queues + ${count} bindings + 1 exchange, ${route}: first ${times[0].toFixed(0)} ms, ` +
          `again (existing) best of ${RUNS - 1} ${Math.min(...times.slice(1)).toFixed(0)} ms`,
      );
    } finally {
      await proxy?.close();
      await cleanUp(declared);
    }
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
