/**
 * `npm run bench -- producer [--count N] [--rounds R] [--rate-msgs-per-s N] [--rate-seconds S] [--rss-count N] [--skip-rss]`
 *
 * In one run, against one private RabbitMQ node (or RABBITMQ_URL):
 *  - throughput: `POST /load` of N messages at full speed through the real producer process vs the
 *    adapter's raw `send` of the same messages, prebuilt, same batch size, with one batch in flight
 *    and with 4 in flight (as the producer sends a full-speed load) — interleaved round by round;
 *  - rate: a rate-limited load, its `sent` sampled every 50 ms, the worst deviation over every 10 s window;
 * and on the embedded backend:
 *  - memory: the producer's peak RSS (from /proc) while it sends a 1,000,000-message load (source
 *    entry, and the built bundle when `apps/producer/dist/main.js` exists).
 * Targets: producer ≥ 0.8× raw adapter send; rate within ±5% over any 10 s window; RSS < 150 MB.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CONTRACT_VERSION, DEFAULT_WORK, encodeWorkMessage, type LoadStatus } from '@surge/contracts';
import { sleep } from '@surge/core';
import { createQueueClient, type OutgoingMessage, type QueueClient, type QueueConfig } from '@surge/queue-adapters';
import { freeLoopbackPorts, startRabbitMq } from '@surge/testing';

const PRODUCER_DIR = path.resolve(import.meta.dirname, '../../apps/producer');
const BATCH = 100;
const TOKEN = randomUUID();

interface Producer {
  child: ChildProcess;
  base: string;
  stop(): Promise<void>;
}

async function startProducer(env: Record<string, string>, entry = 'src/main.ts'): Promise<Producer> {
  const [port] = await freeLoopbackPorts(1);
  const child = spawn(process.execPath, [entry], {
    cwd: PRODUCER_DIR,
    env: {
      PATH: process.env.PATH ?? '',
      HOST: '127.0.0.1',
      PORT: String(port),
      PRODUCER_TOKEN: TOKEN,
      LOG_LEVEL: 'warn',
      PRODUCER_BATCH_SIZE: String(BATCH),
      ...env,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const base = `http://127.0.0.1:${port}`;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`producer exited with ${child.exitCode} before listening`);
    if (
      await fetch(`${base}/livez`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    await sleep(100);
  }
  return {
    child,
    base,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function postLoad(base: string, body: object): Promise<string> {
  const response = await fetch(`${base}/load`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify(body),
  });
  if (response.status !== 202) throw new Error(`POST /load: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { loadId: string }).loadId;
}

async function status(base: string, loadId: string): Promise<LoadStatus> {
  return (await (await fetch(`${base}/load/${loadId}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as LoadStatus;
}

/** Polls until the load ends; `onPoll` gets each status with the request's midpoint time and round trip. */
async function waitForEnd(
  base: string,
  loadId: string,
  everyMs: number,
  onPoll?: (s: LoadStatus, at: number, roundTripMs: number) => void,
): Promise<LoadStatus> {
  for (;;) {
    const sentAt = performance.now();
    const s = await status(base, loadId);
    const receivedAt = performance.now();
    onPoll?.(s, (sentAt + receivedAt) / 2, receivedAt - sentAt);
    if (s.state !== 'pending' && s.state !== 'running') return s;
    await sleep(everyMs);
  }
}

/** Messages like the producer's, encoded up front so the raw run measures only the adapter. */
function messages(count: number): OutgoingMessage[] {
  const loadId = `raw-${randomUUID().slice(0, 8)}`;
  const createdAt = new Date().toISOString();
  return Array.from({ length: count }, (_, seq) => {
    const id = randomUUID();
    return { id, body: encodeWorkMessage({ version: CONTRACT_VERSION, id, loadId, seq, createdAt, work: DEFAULT_WORK }) };
  });
}

async function rawSend(client: QueueClient, all: OutgoingMessage[], inFlight: number): Promise<number> {
  const started = performance.now();
  let next = 0;
  const lane = async () => {
    while (next < all.length) {
      const from = next;
      next += BATCH;
      await client.send(all.slice(from, from + BATCH));
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  return all.length / ((performance.now() - started) / 1000);
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      count: { type: 'string', default: '100000' },
      rounds: { type: 'string', default: '2' },
      'rate-msgs-per-s': { type: 'string', default: '1000' },
      'rate-seconds': { type: 'string', default: '25' },
      'rss-count': { type: 'string', default: '1000000' },
      'skip-rss': { type: 'boolean', default: false },
    },
  });
  const count = Number(values.count);
  const rounds = Number(values.rounds);
  const rate = Number(values['rate-msgs-per-s']);
  const rateSeconds = Number(values['rate-seconds']);
  const rssCount = Number(values['rss-count']);
  for (const [name, value] of Object.entries({ count, rounds, rate, rateSeconds, rssCount })) {
    if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
  }

  const broker = await startRabbitMq();
  process.stdout.write(`producer bench — rabbitmq: ${broker.source}; ${fmt(count)} messages, batch ${BATCH}, ${rounds} rounds\n`);
  const config = (queue: string): QueueConfig => ({
    kind: 'rabbitmq',
    queue,
    url: broker.url,
    managementUrl: undefined,
    prefetch: 100,
    maxDeliveries: 5,
    maxProcessingMs: 60_000,
  });
  const producerQueue = `bench-producer-${randomUUID().slice(0, 8)}`;
  const producer = await startProducer({
    QUEUE_KIND: 'rabbitmq',
    RABBITMQ_URL: broker.url,
    QUEUE_NAME: producerQueue,
    PRODUCER_SEND_RETRY_MS: '5000',
  });
  const raw1: number[] = [];
  const rawK: number[] = [];
  const viaProducer: number[] = [];
  try {
    // Throughput, interleaved so drift on the shared machine hits both sides alike.
    for (let round = 1; round <= rounds; round++) {
      const rawClient = await createQueueClient(config(`bench-raw-${randomUUID().slice(0, 8)}`));
      try {
        raw1.push(await rawSend(rawClient, messages(count), 1));
        rawK.push(await rawSend(rawClient, messages(count), 4));
      } finally {
        await rawClient.close();
      }
      const loadId = await postLoad(producer.base, { count });
      const final = await waitForEnd(producer.base, loadId, 50);
      if (final.state !== 'completed') throw new Error(`load ${final.state}: ${final.error ?? ''}`);
      const seconds = (Date.parse(final.finishedAt!) - Date.parse(final.startedAt!)) / 1000;
      viaProducer.push(final.sent / seconds);
      process.stdout.write(
        `round ${round}: raw adapter send ${fmt(raw1.at(-1)!)} msg/s (1 batch in flight), ${fmt(rawK.at(-1)!)} msg/s (4 in flight); POST /load ${fmt(viaProducer.at(-1)!)} msg/s\n`,
      );
    }
    const p = median(viaProducer);
    process.stdout.write(
      `throughput (medians): POST /load ${fmt(p)} msg/s = ${(p / median(rawK)).toFixed(2)}× raw adapter send with 4 batches in flight, as the producer sends (target ≥ 0.80); ${(p / median(raw1)).toFixed(2)}× the adapter with 1 batch in flight\n`,
    );

    // Rate: sample `sent` and compare every 10 s window with the requested rate.
    const samples: { at: number; sent: number }[] = [];
    const loadId = await postLoad(producer.base, { count: rate * rateSeconds, rate });
    // Samples whose request took long say little about when `sent` was read: leave them out.
    const final = await waitForEnd(
      producer.base,
      loadId,
      50,
      (s, at, roundTripMs) => roundTripMs <= 20 && samples.push({ at, sent: s.sent }),
    );
    let worst = 0;
    let windows = 0;
    const firstAt = samples.find((s) => s.sent > 0)?.at ?? 0;
    for (const start of samples) {
      if (start.at < firstAt) continue;
      const end = samples.find((s) => s.at >= start.at + 10_000);
      if (!end || end.sent >= final.total) break; // windows that reach the end of the load are cut short
      const observed = (end.sent - start.sent) / ((end.at - start.at) / 1000);
      worst = Math.max(worst, Math.abs(observed / rate - 1));
      windows++;
    }
    process.stdout.write(
      `rate: requested ${fmt(rate)} msg/s for ${rateSeconds} s on rabbitmq → average ${final.rate} msg/s; worst 10 s window off by ${(worst * 100).toFixed(2)}% over ${windows} windows (target ±5%)\n`,
    );
  } finally {
    await producer.stop();
    await broker.stop();
  }

  if (values['skip-rss']) return;
  // Memory: a 1,000,000-message load on the embedded backend; RSS sampled from /proc. Measured for the
  // source entry (Node type stripping adds ~30 MB) and, when built (`nx build producer`), the bundle
  // the image runs.
  const entries = ['src/main.ts', ...(fs.existsSync(path.join(PRODUCER_DIR, 'dist/main.js')) ? ['dist/main.js'] : [])];
  for (const entry of entries) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'surge-bench-producer-'));
    const embedded = await startProducer({ QUEUE_KIND: 'embedded', EMBEDDED_QUEUE_DIR: dir, QUEUE_NAME: 'bench-rss' }, entry);
    try {
      const rss = () => Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${embedded.child.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
      const idle = rss();
      let peak = idle;
      const loadId = await postLoad(embedded.base, { count: rssCount });
      const final = await waitForEnd(embedded.base, loadId, 250, () => (peak = Math.max(peak, rss())));
      const seconds = (Date.parse(final.finishedAt!) - Date.parse(final.startedAt!)) / 1000;
      process.stdout.write(
        `memory (${entry}): ${fmt(final.sent)}/${fmt(rssCount)} messages on embedded in ${seconds.toFixed(1)} s (${fmt(final.sent / seconds)} msg/s); producer RSS idle ${idle.toFixed(0)} MB, peak ${peak.toFixed(0)} MB (target < 150 MB)\n`,
      );
    } finally {
      await embedded.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
}
