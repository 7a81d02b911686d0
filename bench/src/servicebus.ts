/**
 * `npm run bench -- servicebus [--messages N] [--batch B] [--size BYTES] [--rounds R]`
 *
 * Against Surge's Service Bus protocol peer (in a process of its own, so it does not share this
 * event loop), with the same @azure/service-bus SDK on both sides of the comparison:
 *  - send: raw `createMessageBatch` + `tryAddMessage` + `sendMessages`, B messages per call, vs the
 *    adapter's `send` with the same B messages;
 *  - receive: raw peek-lock `receiveMessages(B)` + `completeMessage` for each, vs the adapter's
 *    `receive(B)` + `complete` for each.
 * Raw and adapter use fresh queues of the same peer, interleaved round by round; the best round of
 * each is reported with the adapter/raw ratio. Figures from a shared machine: compare ratios, not msg/s.
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { ServiceBusClient } from '@azure/service-bus';
import { createQueueClient, type OutgoingMessage } from '@surge/queue-adapters';
import { startServiceBusPeerProcess } from '@surge/testing';

interface Settings {
  messages: number;
  batch: number;
  size: number;
  rounds: number;
}

interface Rates {
  send: number;
  receive: number;
}

function messages(settings: Settings): OutgoingMessage[][] {
  const body = Buffer.alloc(settings.size, 120);
  const batches: OutgoingMessage[][] = [];
  for (let i = 0; i < settings.messages; i += settings.batch) {
    batches.push(
      Array.from({ length: Math.min(settings.batch, settings.messages - i) }, () => ({
        id: randomUUID(),
        body,
        properties: { traceparent: `00-${randomUUID().replace(/-/g, '')}-${'0'.repeat(15)}1-01` },
      })),
    );
  }
  return batches;
}

function rate(count: number, started: bigint): number {
  return count / (Number(process.hrtime.bigint() - started) / 1e9);
}

async function raw(connectionString: string, settings: Settings): Promise<Rates> {
  const queue = `bench-raw-${randomUUID().slice(0, 8)}`;
  const client = new ServiceBusClient(connectionString);
  try {
    const sender = client.createSender(queue);
    await sender.createMessageBatch(); // open the link outside the timed part, as the adapter's warm-up does
    const batches = messages(settings);
    let started = process.hrtime.bigint();
    for (const group of batches) {
      let batch = await sender.createMessageBatch();
      for (const m of group) {
        const message = { messageId: m.id, body: Buffer.from(m.body), applicationProperties: { ...m.properties } };
        if (!batch.tryAddMessage(message)) {
          await sender.sendMessages(batch);
          batch = await sender.createMessageBatch();
          batch.tryAddMessage(message);
        }
      }
      await sender.sendMessages(batch);
    }
    const send = rate(settings.messages, started);
    const receiver = client.createReceiver(queue, {
      receiveMode: 'peekLock',
      skipParsingBodyAsJson: true,
      maxAutoLockRenewalDurationInMs: 60_000,
    });
    started = process.hrtime.bigint();
    let received = 0;
    while (received < settings.messages) {
      const got = await receiver.receiveMessages(settings.batch, { maxWaitTimeInMs: 5_000 });
      if (got.length === 0) throw new Error(`raw receive stalled at ${received}/${settings.messages}`);
      await Promise.all(got.map((m) => receiver.completeMessage(m)));
      received += got.length;
    }
    const receive = rate(received, started);
    await receiver.close();
    await sender.close();
    return { send, receive };
  } finally {
    await client.close();
  }
}

async function adapter(connectionString: string, settings: Settings): Promise<Rates> {
  const queue = `bench-adapter-${randomUUID().slice(0, 8)}`;
  const client = await createQueueClient({
    kind: 'servicebus',
    queue,
    maxDeliveries: 5,
    maxProcessingMs: 60_000,
    connectionString,
    namespace: undefined,
  });
  try {
    await client.ping();
    const batches = messages(settings);
    let started = process.hrtime.bigint();
    for (const group of batches) await client.send(group);
    const send = rate(settings.messages, started);
    started = process.hrtime.bigint();
    let received = 0;
    while (received < settings.messages) {
      const got = await client.receive(settings.batch, 5_000);
      if (got.length === 0) throw new Error(`adapter receive stalled at ${received}/${settings.messages}`);
      await Promise.all(got.map((d) => d.complete()));
      received += got.length;
    }
    return { send, receive: rate(received, started) };
  } finally {
    await client.close();
  }
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US').padStart(9);
}

export async function run(args: string[] = []): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      messages: { type: 'string', default: '20000' },
      batch: { type: 'string', default: '200' },
      size: { type: 'string', default: '256' },
      rounds: { type: 'string', default: '3' },
    },
  });
  const settings: Settings = {
    messages: Number(values.messages),
    batch: Number(values.batch),
    size: Number(values.size),
    rounds: Number(values.rounds),
  };
  const peer = await startServiceBusPeerProcess({ lockDurationMs: 60_000 });
  try {
    process.stdout.write(
      `servicebus bench: ${settings.messages} messages of ${settings.size} B, batches of ${settings.batch}, ${settings.rounds} rounds, against the protocol peer (pid ${peer.pid})\n`,
    );
    const best = { raw: { send: 0, receive: 0 }, adapter: { send: 0, receive: 0 } };
    for (let round = 1; round <= settings.rounds; round++) {
      const r = await raw(peer.connectionString, settings);
      const a = await adapter(peer.connectionString, settings);
      process.stdout.write(
        `round ${round}: raw send ${fmt(r.send)}  adapter send ${fmt(a.send)}  raw receive ${fmt(r.receive)}  adapter receive ${fmt(a.receive)} msg/s\n`,
      );
      best.raw = { send: Math.max(best.raw.send, r.send), receive: Math.max(best.raw.receive, r.receive) };
      best.adapter = { send: Math.max(best.adapter.send, a.send), receive: Math.max(best.adapter.receive, a.receive) };
    }
    process.stdout.write(`\n              raw SDK     adapter   adapter/raw\n`);
    process.stdout.write(
      `send      ${fmt(best.raw.send)}   ${fmt(best.adapter.send)}   ${(best.adapter.send / best.raw.send).toFixed(2).padStart(8)}\n`,
    );
    process.stdout.write(
      `receive   ${fmt(best.raw.receive)}   ${fmt(best.adapter.receive)}   ${(best.adapter.receive / best.raw.receive).toFixed(2).padStart(8)}\n`,
    );
    process.stdout.write('(msg/s, best of the rounds; receive = peek-lock receive + complete)\n');
  } finally {
    await peer.close();
  }
}
