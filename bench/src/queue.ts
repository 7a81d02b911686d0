/**
 * `npm run bench -- queue [--messages N] [--batch B] [--prefetch P] [--size BYTES] [--rounds R] [--parallel K]`
 *
 * On one broker in one run (a private RabbitMQ node from @surge/testing, or RABBITMQ_URL):
 *  - send: raw amqplib confirmed publish (ConfirmChannel, batches of B confirmed before the next,
 *    K batches in flight) vs the adapter's `send` with the same batches;
 *  - consume: raw consume + ack at prefetch P vs the adapter's `consume` + `complete` at
 *    concurrency P (prefetch P);
 * and the embedded backend's send and consume + complete. Prints msg/s and the ratios.
 * Raw and adapter use identical queues (same quorum arguments), interleaved round by round.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import amqp, { type Channel, type ChannelModel, type ConfirmChannel } from 'amqplib';
import { createQueueClient, type OutgoingMessage, type QueueClient, type QueueConfig } from '@surge/queue-adapters';
import { startRabbitMq } from '@surge/testing';
import { deleteBenchQueues } from './rabbitmq-cleanup.ts';

interface Settings {
  messages: number;
  batch: number;
  prefetch: number;
  size: number;
  rounds: number;
  parallel: number;
}

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      messages: { type: 'string', default: '30000' },
      batch: { type: 'string', default: '100' },
      prefetch: { type: 'string', default: '100' },
      size: { type: 'string', default: '256' },
      rounds: { type: 'string', default: '3' },
      parallel: { type: 'string', default: '4' },
    },
  });
  const s: Settings = {
    messages: Number(values.messages),
    batch: Number(values.batch),
    prefetch: Number(values.prefetch),
    size: Number(values.size),
    rounds: Number(values.rounds),
    parallel: Number(values.parallel),
  };
  for (const [key, value] of Object.entries(s)) {
    if (!Number.isInteger(value) || value < 1) throw new Error(`--${key} must be a positive integer`);
  }
  const body = Buffer.alloc(s.size, 'x');
  process.stdout.write(
    `queue bench: ${s.messages} messages of ${s.size} B, batch ${s.batch} (${s.parallel} batches in flight), prefetch/concurrency ${s.prefetch}, ${s.rounds} rounds\n`,
  );

  const broker = await startRabbitMq();
  process.stdout.write(`rabbitmq: ${broker.source}${broker.nodeName ? ` (${broker.nodeName})` : ''}\n`);
  const model = await amqp.connect(broker.url);
  const admin = await model.createChannel();
  const created: string[] = [];
  const results = { rawSend: [] as number[], adapterSend: [] as number[], rawConsume: [] as number[], adapterConsume: [] as number[] };
  try {
    for (let round = 1; round <= s.rounds; round++) {
      const rawQueue = `bench-raw-${randomUUID().slice(0, 8)}`;
      const adapterQueue = `bench-adapter-${randomUUID().slice(0, 8)}`;
      created.push(rawQueue, adapterQueue);
      const config = (queue: string): QueueConfig => ({
        kind: 'rabbitmq',
        queue,
        maxDeliveries: 5,
        maxProcessingMs: 60_000,
        url: broker.url,
        managementUrl: broker.managementUrl,
        prefetch: s.prefetch,
      });
      // The adapter declares its topology; the raw queue gets the very same (declared by a throwaway client).
      await (await createQueueClient(config(rawQueue))).close();
      const adapter = await createQueueClient(config(adapterQueue));
      try {
        // Alternate which side goes first, so warm-up and drift do not favour one of them.
        const rawFirst = round % 2 === 1;
        let rawSend = 0;
        let adapterSend = 0;
        let rawConsumeRate = 0;
        let adapterConsume = 0;
        const sendRaw = async () => void (rawSend = await rawPublish(model, rawQueue, body, s));
        const sendAdapter = async () => void (adapterSend = await measure(s.messages, () => sendBatches(adapter, body, s)));
        const consumeRaw = async () => void (rawConsumeRate = await rawConsume(model, rawQueue, s));
        const consumeAdapter = async () => void (adapterConsume = await adapterConsumeRate(adapter, s));
        for (const step of rawFirst
          ? [sendRaw, sendAdapter, consumeRaw, consumeAdapter]
          : [sendAdapter, sendRaw, consumeAdapter, consumeRaw])
          await step();
        results.rawSend.push(rawSend);
        results.adapterSend.push(adapterSend);
        results.rawConsume.push(rawConsumeRate);
        results.adapterConsume.push(adapterConsume);
        process.stdout.write(
          `round ${round}: send raw ${fmt(rawSend)} adapter ${fmt(adapterSend)} (${(adapterSend / rawSend).toFixed(2)}x) | consume raw ${fmt(rawConsumeRate)} adapter ${fmt(adapterConsume)} (${(adapterConsume / rawConsumeRate).toFixed(2)}x)\n`,
        );
      } finally {
        await adapter.close();
      }
    }
  } finally {
    await deleteBenchQueues(admin, created);
    await model.close().catch(() => undefined);
    await broker.stop();
  }

  const embedded = await embeddedRates(body, s);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const rs = median(results.rawSend);
  const as = median(results.adapterSend);
  const rc = median(results.rawConsume);
  const ac = median(results.adapterConsume);
  // The ratio is taken per round (raw and adapter ran back to back), then the median of those.
  const sendRatio = median(results.adapterSend.map((a, i) => a / results.rawSend[i]!));
  const consumeRatio = median(results.adapterConsume.map((a, i) => a / results.rawConsume[i]!));
  process.stdout.write('\nmedian msg/s                         raw amqplib   surge adapter   median ratio (target >= 0.80)\n');
  process.stdout.write(`rabbitmq send (confirmed)            ${pad(rs)}   ${pad(as)}     ${sendRatio.toFixed(2)}\n`);
  process.stdout.write(`rabbitmq consume + ack/complete      ${pad(rc)}   ${pad(ac)}     ${consumeRatio.toFixed(2)}\n`);
  process.stdout.write(`embedded send                                      ${pad(embedded.send)}     (target >= 5000)\n`);
  process.stdout.write(`embedded consume + complete                        ${pad(embedded.consume)}     (target >= 5000)\n`);
}

function fmt(rate: number): string {
  return `${Math.round(rate)} msg/s`;
}

function pad(rate: number): string {
  return String(Math.round(rate)).padStart(11);
}

async function measure(count: number, work: () => Promise<void>): Promise<number> {
  const start = performance.now();
  await work();
  return count / ((performance.now() - start) / 1000);
}

/** Batches of `batch`, `parallel` of them in flight, each awaited as a whole — the same shape for raw and adapter. */
async function inBatches(total: number, settings: Settings, sendBatch: (from: number, count: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: settings.parallel }, async () => {
    while (next < total) {
      const from = next;
      const count = Math.min(settings.batch, total - from);
      next += count;
      await sendBatch(from, count);
    }
  });
  await Promise.all(lanes);
}

async function rawPublish(model: ChannelModel, queue: string, body: Buffer, s: Settings): Promise<number> {
  const channel: ConfirmChannel = await model.createConfirmChannel();
  try {
    const timestamp = Math.floor(Date.now() / 1000);
    return await measure(s.messages, () =>
      inBatches(s.messages, s, async (_from, count) => {
        const confirms: Promise<void>[] = [];
        for (let i = 0; i < count; i++) {
          let flushed = true;
          confirms.push(
            new Promise<void>((resolve, reject) => {
              flushed = channel.publish(
                '',
                queue,
                body,
                { messageId: randomUUID(), persistent: true, mandatory: true, timestamp },
                (error: unknown) => (error ? reject(error) : resolve()),
              );
            }),
          );
          if (!flushed) await new Promise((resolve) => channel.once('drain', resolve));
        }
        await Promise.all(confirms);
      }),
    );
  } finally {
    await channel.close();
  }
}

async function sendBatches(client: QueueClient, body: Buffer, s: Settings): Promise<void> {
  await inBatches(s.messages, s, async (_from, count) => {
    const batch: OutgoingMessage[] = Array.from({ length: count }, () => ({ id: randomUUID(), body }));
    await client.send(batch);
  });
}

async function rawConsume(model: ChannelModel, queue: string, s: Settings): Promise<number> {
  const channel: Channel = await model.createChannel();
  try {
    await channel.prefetch(s.prefetch, false);
    let acked = 0;
    let tag = '';
    const rate = await measure(s.messages, async () => {
      await new Promise<void>((resolve) => {
        void channel
          .consume(
            queue,
            (message) => {
              if (!message) return;
              channel.ack(message);
              if (++acked === s.messages) resolve();
            },
            { noAck: false },
          )
          .then((ok) => (tag = ok.consumerTag));
      });
    });
    await channel.cancel(tag);
    return rate;
  } finally {
    await channel.close();
  }
}

async function adapterConsumeRate(client: QueueClient, s: Settings): Promise<number> {
  let completed = 0;
  let stop: (() => Promise<void>) | undefined;
  const rate = await measure(s.messages, async () => {
    await new Promise<void>((resolve, reject) => {
      client
        .consume(
          async (delivery) => {
            await delivery.complete();
            if (++completed === s.messages) resolve();
          },
          { concurrency: s.prefetch },
        )
        .then((consumer) => (stop = () => consumer.stop()), reject);
    });
  });
  await stop?.();
  return rate;
}

async function embeddedRates(body: Buffer, s: Settings): Promise<{ send: number; consume: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'surge-bench-embedded-'));
  try {
    const client = await createQueueClient({
      kind: 'embedded',
      queue: 'bench',
      dir,
      leaseMs: 30_000,
      maxDeliveries: 5,
      maxProcessingMs: 60_000,
    });
    try {
      const send = await measure(s.messages, () => sendBatches(client, body, s));
      const consume = await adapterConsumeRate(client, s);
      return { send, consume };
    } finally {
      await client.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
