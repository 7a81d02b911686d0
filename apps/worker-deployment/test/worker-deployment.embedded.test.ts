/**
 * worker-deployment as real processes on the embedded queue: throughput correctness with three
 * replicas, then the same load while the test does what the HPA and spot evictions do — SIGTERM
 * (or SIGKILL) to a random replica every 300 ms and a new one started in its place.
 */
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createQueueClient, type EmbeddedQueueConfig, type QueueClient } from '@surge/queue-adapters';
import { createResultSink } from '@surge/results';
import { workMessages } from '@surge/testing';
import {
  accountWrites,
  checkResults,
  metricSum,
  removeTempDirs,
  startDeployment,
  tempDir,
  uniqueQueue,
  waitFor,
  type Deployment,
} from './support.ts';

const COUNT = 2000;
const clients: QueueClient[] = [];
const started: Deployment[] = [];
afterAll(async () => {
  for (const d of started) d.proc.kill('SIGKILL');
  await Promise.all(started.map((d) => d.proc.exited));
  await Promise.all(clients.map((c) => c.close()));
  removeTempDirs();
});

async function setup(leaseMs: number, concurrency = 8) {
  const dir = tempDir();
  const config: EmbeddedQueueConfig = {
    kind: 'embedded',
    queue: uniqueQueue('dep'),
    dir: path.join(dir, 'queue'),
    leaseMs,
    maxDeliveries: 50,
    maxProcessingMs: 60_000,
  };
  const queue = await createQueueClient(config);
  clients.push(queue);
  const resultsDir = path.join(dir, 'results');
  const sink = await createResultSink({ kind: 'local', dir: resultsDir });
  const env = {
    QUEUE_KIND: 'embedded',
    QUEUE_NAME: config.queue,
    EMBEDDED_QUEUE_DIR: config.dir,
    EMBEDDED_QUEUE_LEASE_MS: String(leaseMs),
    QUEUE_MAX_DELIVERIES: String(config.maxDeliveries),
    RESULTS_DIR: resultsDir,
    CONCURRENCY: String(concurrency),
    DRAIN_TIMEOUT_MS: '2000',
  };
  let n = 0;
  const start = () => {
    const d = startDeployment({ ...env, WORKER_INSTANCE: `w-${++n}` });
    started.push(d);
    return d;
  };
  return { queue, sink, start };
}

const alive = (d: Deployment) => d.proc.child.exitCode === null && d.proc.child.signalCode === null;

async function chaos(signal: 'SIGTERM' | 'SIGKILL') {
  // 40 ms of work at concurrency 4 keeps the run going for several seconds even on a quiet machine,
  // so signals land on replicas with work in flight.
  const { queue, sink, start } = await setup(signal === 'SIGKILL' ? 1000 : 30_000, 4);
  const { messages, outgoing } = workMessages({ loadId: `load-${signal}`, count: COUNT, work: { durationMs: 40, mode: 'wait' } });
  await queue.send(outgoing);
  const replicas = [start(), start(), start()];
  const everyone = [...replicas];
  const victims: Deployment[] = [];
  const timer = setInterval(() => {
    // Victims are replicas that are up and consuming, as on an HPA scale-in or a spot eviction of a
    // running pod (killing processes that are still loading would only measure Node start-up).
    const candidates = replicas.map((d, i) => [d, i] as const).filter(([d]) => alive(d) && d.proc.logs.some((l) => l.msg === 'consuming'));
    if (candidates.length === 0) return;
    const [victim, index] = candidates[Math.floor(Math.random() * candidates.length)]!;
    victim.proc.kill(signal);
    victims.push(victim);
    replicas[index] = start();
    everyone.push(replicas[index]);
  }, 300);
  try {
    await waitFor(async () => (await sink.list(`load-${signal}`)).length >= COUNT, `${COUNT} results`, 600_000, 300);
  } finally {
    clearInterval(timer);
  }
  // The last replicas may still be loading (no handler yet, as in a pod before its app runs): stop them once up.
  await Promise.all(replicas.map((d) => d.proc.waitForLog((l) => l.msg === 'consuming').catch(() => undefined)));
  for (const d of replicas) d.proc.kill('SIGTERM');
  const exits = await Promise.all(everyone.map((d) => d.proc.exited));
  const accounting = accountWrites(everyone.map((d) => d.proc));
  const checked = await checkResults(
    sink,
    `load-${signal}`,
    messages.map((m) => m.id),
    accounting,
  );
  console.info(
    `${signal} chaos: ${everyone.length} processes, ${victims.length} ${signal}s, ${accounting.duplicates} duplicate writes detected and kept out, ${checked.verifiedWriters} writers verified`,
  );
  // The signals landed on running consumers: each victim ended by that signal (SIGTERM: a drained exit 0).
  expect(victims.length).toBeGreaterThan(3);
  const victimExits = await Promise.all(victims.map((d) => d.proc.exited));
  expect(victimExits).toEqual(victims.map(() => (signal === 'SIGKILL' ? { code: null, signal: 'SIGKILL' } : { code: 0, signal: null })));
  return { exits, everyone, victims, queue };
}

describe('worker-deployment processes on the embedded queue', () => {
  it('2,000 messages through 3 processes: exactly 2,000 distinct results; SIGTERM → exit 0', { timeout: 600_000 }, async () => {
    const { queue, sink, start } = await setup(30_000);
    const { messages, outgoing } = workMessages({ loadId: 'load-plain', count: COUNT, work: { durationMs: 2, mode: 'wait' } });
    await queue.send(outgoing);
    const replicas = [start(), start(), start()];
    await waitFor(async () => (await sink.list('load-plain')).length >= COUNT, `${COUNT} results`, 600_000, 300);
    await waitFor(async () => (await queue.depth()).inFlight === 0, 'settled');
    const texts = await Promise.all(replicas.map((d) => d.metrics()));
    for (const d of replicas) d.proc.kill('SIGTERM');
    const exits = await Promise.all(replicas.map((d) => d.proc.exited));
    expect(exits).toEqual(replicas.map(() => ({ code: 0, signal: null })));
    const accounting = accountWrites(replicas.map((d) => d.proc));
    const checked = await checkResults(
      sink,
      'load-plain',
      messages.map((m) => m.id),
      accounting,
    );
    expect(checked.verifiedWriters).toBe(COUNT);
    expect(texts.reduce((sum, t) => sum + metricSum(t, 'surge_worker_messages_processed_total', 'result="written"'), 0)).toBe(COUNT);
    expect(await queue.depth()).toEqual({ ready: 0, inFlight: 0, deadLettered: 0 });
  });

  it(
    'SIGTERM to a random replica every 300 ms, a new one started: all 2,000 results, none lost or overwritten',
    { timeout: 900_000 },
    async () => {
      const { exits, everyone, queue } = await chaos('SIGTERM');
      // Every replica, the terminated ones and the last three, drained and exited 0.
      expect(exits.filter((e) => e.code !== 0)).toEqual([]);
      expect(everyone.every((d) => d.proc.stderr() === '')).toBe(true);
      await waitFor(async () => (await queue.depth()).ready === 0 && (await queue.depth()).inFlight === 0, 'empty queue');
      expect((await queue.depth()).deadLettered).toBe(0);
    },
  );

  it('SIGKILL instead (1 s leases): all 2,000 results, none lost or overwritten', { timeout: 900_000 }, async () => {
    const { exits, victims, everyone, queue } = await chaos('SIGKILL');
    const survivors = everyone.filter((d) => !victims.includes(d));
    expect(exits.filter((_, i) => survivors.includes(everyone[i]!)).every((e) => e.code === 0)).toBe(true);
    await waitFor(async () => (await queue.depth()).ready === 0 && (await queue.depth()).inFlight === 0, 'empty queue');
    expect((await queue.depth()).deadLettered).toBe(0);
  });
});
