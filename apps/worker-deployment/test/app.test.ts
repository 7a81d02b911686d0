/**
 * The worker-deployment wiring in-process on the embedded queue: probes, metrics, draining and
 * the drain budget, poison messages. Process-level behaviour is in the *.int tests.
 */
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createQueueClient, type EmbeddedQueueConfig, type QueueClient } from '@surge/queue-adapters';
import { createResultSink, type ResultSink } from '@surge/results';
import { createLogger } from '@surge/telemetry';
import { createRegistry, startOpsServer, type OpsServer } from '@surge/metrics';
import { workMessages } from '@surge/testing';
import type { WorkSpec } from '@surge/contracts';
import { WorkerDeployment } from '../src/app.ts';
import { metricSum, removeTempDirs, tempDir, uniqueQueue, waitFor } from './support.ts';

const logger = createLogger({ name: 'worker-deployment-test', level: 'silent' });
const open: { stop(): Promise<unknown> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.stop();
  removeTempDirs();
});

async function setup(options: { drainTimeoutMs?: number; maxDeliveries?: number; concurrency?: number } = {}) {
  const dir = tempDir();
  const config: EmbeddedQueueConfig = {
    kind: 'embedded',
    queue: uniqueQueue('dep'),
    dir: path.join(dir, 'queue'),
    leaseMs: 10_000,
    maxDeliveries: options.maxDeliveries ?? 5,
    maxProcessingMs: 60_000,
  };
  const queue = await createQueueClient(config);
  const sink: ResultSink = await createResultSink({ kind: 'local', dir: path.join(dir, 'results') });
  const registry = createRegistry({ app: 'worker-deployment', defaultMetrics: false });
  const app = new WorkerDeployment({
    queue,
    sink,
    logger,
    registry,
    concurrency: options.concurrency ?? 4,
    drainTimeoutMs: options.drainTimeoutMs ?? 5000,
    instance: 'test-w',
    maxDeliveries: config.maxDeliveries,
    closeTimeoutMs: 2000,
  });
  const ops: OpsServer = await startOpsServer({ host: '127.0.0.1', port: 0, registry, ready: () => app.ready });
  open.push({ stop: () => ops.close() }, { stop: () => app.stop() });
  // The app closes its own clients on stop: the test reads and sends through separate ones.
  const producer: QueueClient = await createQueueClient(config);
  const reader: ResultSink = await createResultSink({ kind: 'local', dir: path.join(dir, 'results') });
  open.push({ stop: () => producer.close() });
  const get = async (p: string) => {
    const res = await fetch(`http://127.0.0.1:${ops.port}${p}`);
    return { status: res.status, text: await res.text() };
  };
  const send = (count: number, work: Partial<WorkSpec> = {}, loadId = 'load-app') => {
    const built = workMessages({ loadId, count, work });
    return producer.send(built.outgoing).then(() => built.messages);
  };
  return { app, queue, producer, sink: reader, registry, get, send, config };
}

describe('worker-deployment app', () => {
  it('is live at once, ready only while the consumer is attached, and exposes its metrics with help text', async () => {
    const { app, get, send, sink } = await setup();
    expect((await get('/livez')).status).toBe(200);
    expect((await get('/readyz')).status).toBe(503);
    await app.start();
    expect((await get('/readyz')).status).toBe(200);
    const messages = await send(20, { durationMs: 1 });
    await waitFor(async () => (await sink.list('load-app')).length === 20, 'results');
    await waitFor(async () => metricSum((await get('/metrics')).text, 'surge_worker_messages_processed_total') === 20, 'metrics');
    const text = (await get('/metrics')).text;
    for (const name of [
      'surge_worker_messages_processed_total',
      'surge_worker_messages_failed_total',
      'surge_worker_messages_dead_lettered_total',
      'surge_worker_messages_in_flight',
      'surge_worker_processing_seconds',
      'surge_worker_end_to_end_seconds',
    ]) {
      expect(text).toMatch(new RegExp(`# HELP ${name} \\S`));
    }
    expect(metricSum(text, 'surge_worker_messages_processed_total', 'result="written"')).toBe(20);
    expect(metricSum(text, 'surge_worker_processing_seconds_count')).toBe(20);
    expect(metricSum(text, 'surge_worker_end_to_end_seconds_count')).toBe(20);
    expect(metricSum(text, 'surge_worker_messages_in_flight')).toBe(0);
    expect(messages).toHaveLength(20);
    await app.stop();
    expect((await get('/readyz')).status).toBe(503);
    expect((await get('/livez')).status).toBe(200);
  });

  it('on stop: takes nothing new, lets in-flight work finish within the drain budget', async () => {
    const { app, send, sink, producer } = await setup({ concurrency: 2, drainTimeoutMs: 10_000 });
    await app.start();
    await send(6, { durationMs: 400 });
    await waitFor(async () => app.inFlight === 2, 'two in flight');
    const summary = await app.stop();
    expect(summary).toEqual({ drained: true });
    // Exactly the two in flight finished; the other four were never taken.
    expect((await sink.list('load-app')).length).toBe(2);
    expect((await producer.depth()).ready).toBe(4);
  });

  it('after the drain budget: abandons in-flight work (redelivered), counted as failed/shutdown', async () => {
    const { app, send, sink, producer, registry } = await setup({ concurrency: 3, drainTimeoutMs: 300 });
    await app.start();
    const messages = await send(3, { durationMs: 60_000, mode: 'cpu' });
    await waitFor(async () => app.inFlight === 3, 'three in flight');
    expect(await app.stop()).toEqual({ drained: false });
    expect(await sink.list('load-app')).toEqual([]);
    const again = await producer.receive(3, 2000);
    expect(again.map((d) => d.deliveryCount)).toEqual([2, 2, 2]);
    expect(new Set(again.map((d) => d.id))).toEqual(new Set(messages.map((m) => m.id)));
    await Promise.all(again.map((d) => d.complete()));
    expect(metricSum(await registry.metrics(), 'surge_worker_messages_failed_total', 'reason="shutdown"')).toBe(3);
  });

  it('poison and invalid messages end in the dead-letter queue with their reason, and are counted', async () => {
    const { app, send, producer, registry } = await setup({ maxDeliveries: 3 });
    await app.start();
    const [poison] = await send(1, { failureProbability: 1 }, 'load-poison');
    await producer.send([{ id: '0b8e1a7e-2222-4c3c-8d8d-000000000002', body: Buffer.from('{"version":1}') }]);
    await waitFor(async () => (await producer.depth()).deadLettered === 2, 'two dead letters');
    const dead = await producer.peekDeadLetters(5);
    expect(new Map(dead.map((d) => [d.id, d.reason]))).toEqual(
      new Map([
        [poison!.id, 'MaxDeliveryCountExceeded'],
        ['0b8e1a7e-2222-4c3c-8d8d-000000000002', 'InvalidMessage'],
      ]),
    );
    const text = await registry.metrics();
    expect(metricSum(text, 'surge_worker_messages_dead_lettered_total', 'reason="MaxDeliveryCountExceeded"')).toBe(1);
    expect(metricSum(text, 'surge_worker_messages_dead_lettered_total', 'reason="InvalidMessage"')).toBe(1);
    expect(metricSum(text, 'surge_worker_messages_failed_total', 'reason="work"')).toBe(2);
  });
});
