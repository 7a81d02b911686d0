import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeWorkMessage, type WorkMessage, type WorkSpec } from '@surge/contracts';
import { createQueueClient, QueueError, type Delivery, type QueueClient } from '@surge/queue-adapters';
import { createResultSink, ResultError, type ResultSink } from '@surge/results';
import { createLogger } from '@surge/telemetry';
import { ConfigError } from '@surge/core';
import { createProcessor, outcomeFileObserver, simulateWork, type OutcomeRecord, type ProcessingReport } from '../src/index.ts';

const logger = createLogger({ name: 'processing-test', level: 'silent' });

function message(work: Partial<WorkSpec> = {}): WorkMessage {
  return {
    version: 1,
    id: randomUUID(),
    loadId: 'load-p',
    seq: 7,
    createdAt: new Date(Date.now() - 1000).toISOString(),
    work: { durationMs: 0, mode: 'wait', failureProbability: 0, ...work },
  };
}

const keyOf = (m: WorkMessage) => ({ loadId: m.loadId, messageId: m.id });

let dir: string;
let queue: QueueClient;
let sink: ResultSink;
const MAX_DELIVERIES = 3;

beforeEach(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'surge-processing-'));
  queue = await createQueueClient({
    kind: 'embedded',
    queue: `p-${randomUUID().slice(0, 8)}`,
    dir: path.join(dir, 'queue'),
    leaseMs: 5000,
    maxDeliveries: MAX_DELIVERIES,
    maxProcessingMs: 60_000,
  });
  sink = await createResultSink({ kind: 'local', dir: path.join(dir, 'results') });
});

afterEach(async () => {
  await queue.close();
  await sink.close();
  rmSync(dir, { recursive: true, force: true });
});

async function sendAndReceive(body: Buffer | string, id: string = randomUUID()): Promise<Delivery> {
  await queue.send([{ id, body: Buffer.from(body) }]);
  const [delivery] = await queue.receive(1, 2000);
  if (!delivery) throw new Error('no delivery');
  return delivery;
}

function processor(overrides: { sink?: ResultSink; observed?: ProcessingReport[] } = {}) {
  const observed = overrides.observed;
  return createProcessor({
    sink: overrides.sink ?? sink,
    logger,
    worker: { kind: 'deployment', instance: 'test-1' },
    maxDeliveries: MAX_DELIVERIES,
    ...(observed ? { observer: { finished: (r: ProcessingReport) => observed.push(r) } } : {}),
  });
}

describe('processing a delivery', () => {
  it('writes the result, then completes the message', async () => {
    const m = message({ durationMs: 20 });
    const observed: ProcessingReport[] = [];
    const report = await processor({ observed })(await sendAndReceive(encodeWorkMessage(m), m.id));
    expect(report).toMatchObject({ messageId: m.id, outcome: 'completed', write: 'written' });
    expect(report.endToEndMs).toBeGreaterThanOrEqual(report.processingMs);
    expect(observed).toEqual([report]);
    const stored = await sink.read(keyOf(m));
    expect(stored).toMatchObject({
      messageId: m.id,
      loadId: 'load-p',
      seq: 7,
      worker: { kind: 'deployment', instance: 'test-1' },
      deliveryAttempt: 1,
      outcome: 'succeeded',
    });
    expect(await queue.depth()).toEqual({ ready: 0, inFlight: 0, deadLettered: 0 });
  });

  it('dead-letters an invalid message at once, with the field errors as the reason', async () => {
    const bad = { ...message(), work: { durationMs: -5, mode: 'sleep', failureProbability: 0 } };
    const report = await processor()(await sendAndReceive(JSON.stringify(bad)));
    expect(report).toMatchObject({ outcome: 'dead-lettered', reason: 'InvalidMessage' });
    const notJson = await processor()(await sendAndReceive('{not json'));
    expect(notJson.outcome).toBe('dead-lettered');
    const dead = await queue.peekDeadLetters(10);
    expect(dead.map((d) => d.reason)).toEqual(['InvalidMessage', 'InvalidMessage']);
    expect(dead[0]!.description).toMatch(/work\.durationMs/);
    expect(dead[0]!.description).toMatch(/work\.mode/);
    expect(dead[1]!.description).toMatch(/not valid JSON/);
    expect((await sink.list()).length).toBe(0);
  });

  it('abandons an injected failure and dead-letters it after the maximum deliveries', async () => {
    const m = message({ failureProbability: 1 });
    await queue.send([{ id: m.id, body: encodeWorkMessage(m) }]);
    const outcomes: string[] = [];
    for (let i = 0; i < MAX_DELIVERIES; i++) {
      const [delivery] = await queue.receive(1, 2000);
      expect(delivery?.deliveryCount).toBe(i + 1);
      outcomes.push((await processor()(delivery!)).outcome);
    }
    expect(outcomes).toEqual(['failed', 'failed', 'dead-lettered']);
    expect(await queue.receive(1, 0)).toEqual([]);
    const [dead] = await queue.peekDeadLetters(1);
    expect(dead).toMatchObject({ id: m.id, reason: 'MaxDeliveryCountExceeded' });
    expect(await sink.read(keyOf(m))).toBeUndefined();
  });

  it('counts a duplicate, keeps the first result and completes the redelivery', async () => {
    const m = message();
    const delivery = await sendAndReceive(encodeWorkMessage(m), m.id);
    const first = {
      version: 1 as const,
      messageId: m.id,
      loadId: m.loadId,
      seq: m.seq,
      worker: { kind: 'job' as const, instance: 'earlier' },
      deliveryAttempt: 1,
      enqueuedAt: m.createdAt,
      startedAt: m.createdAt,
      finishedAt: m.createdAt,
      outcome: 'succeeded' as const,
    };
    await sink.writeIfAbsent(first);
    const report = await processor()(delivery);
    expect(report).toMatchObject({ outcome: 'completed', write: 'duplicate' });
    expect(await sink.read(keyOf(m))).toEqual(first);
    expect((await queue.depth()).ready).toBe(0);
  });

  it('abandons the message when the result store fails, so it is written on redelivery', async () => {
    const m = message();
    const failing: ResultSink = {
      ...sink,
      kind: 'local',
      location: 'broken',
      writeIfAbsent: () => Promise.reject(new ResultError('UNAVAILABLE', 'disk on fire')),
      read: sink.read.bind(sink),
      list: sink.list.bind(sink),
      close: async () => {},
    };
    const report = await processor({ sink: failing })(await sendAndReceive(encodeWorkMessage(m), m.id));
    expect(report.outcome).toBe('store-failed');
    expect((report.error as ResultError).code).toBe('RESULTS_UNAVAILABLE');
    const [again] = await queue.receive(1, 2000);
    expect(again?.deliveryCount).toBe(2);
    expect((await processor()(again!)).outcome).toBe('completed');
    expect(await sink.read(keyOf(m))).toMatchObject({ deliveryAttempt: 2 });
  });

  it('abandons the work when the signal aborts (shutdown), without a result', async () => {
    const m = message({ durationMs: 60_000 });
    const abort = new AbortController();
    const running = processor()(await sendAndReceive(encodeWorkMessage(m), m.id), abort.signal);
    setTimeout(() => abort.abort(), 50);
    const report = await running;
    expect(report).toMatchObject({ outcome: 'aborted', reason: 'shutdown' });
    expect(await sink.read(keyOf(m))).toBeUndefined();
    expect((await queue.receive(1, 2000))[0]?.id).toBe(m.id);
  });

  it('reports a settle failure (lock or lease lost) instead of throwing', async () => {
    const m = message();
    const delivery = await sendAndReceive(encodeWorkMessage(m), m.id);
    const lost: Delivery = {
      ...delivery,
      id: delivery.id,
      queue: delivery.queue,
      body: delivery.body,
      properties: delivery.properties,
      deliveryCount: delivery.deliveryCount,
      enqueuedAt: delivery.enqueuedAt,
      complete: () => Promise.reject(new QueueError('DELIVERY_LOST', 'lease expired')),
      abandon: () => delivery.abandon(),
      deadLetter: (r, d) => delivery.deadLetter(r, d),
    };
    const report = await processor()(lost);
    expect(report.outcome).toBe('settle-failed');
    expect(report.write).toBe('written');
    expect((report.error as QueueError).code).toBe('QUEUE_DELIVERY_LOST');
    // The result was stored before the settle: the redelivery will find it and count a duplicate.
    expect(await sink.read(keyOf(m))).toBeDefined();
  });
});

describe('outcome files', () => {
  it('one line per finished delivery: a redelivery whose result exists is read back as a duplicate', async () => {
    const outcomes = path.join(dir, 'outcomes');
    const m = message();
    const first = outcomeFileObserver(outcomes, 'pod-1');
    await createProcessor({ sink, logger, worker: { kind: 'job', instance: 'pod-1' }, maxDeliveries: MAX_DELIVERIES, observer: first })(
      await sendAndReceive(encodeWorkMessage(m), m.id),
    );
    first.close();
    // The same message again (a redelivery after a lost ack), processed by another pod.
    const second = outcomeFileObserver(outcomes, 'pod/2');
    await createProcessor({ sink, logger, worker: { kind: 'job', instance: 'pod-2' }, maxDeliveries: MAX_DELIVERIES, observer: second })(
      await sendAndReceive(encodeWorkMessage(m), m.id),
    );
    second.close();
    expect(second.file).not.toBe(first.file);
    expect(path.basename(second.file)).toMatch(/^pod_2\.\d+\.jsonl$/);
    const lines = (file: string) =>
      readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as OutcomeRecord);
    expect(lines(first.file)).toEqual([{ messageId: m.id, outcome: 'completed', write: 'written' }]);
    expect(lines(second.file)).toEqual([{ messageId: m.id, outcome: 'completed', write: 'duplicate' }]);
  });

  it('the folder is made when missing; one that cannot be made is a ConfigError naming OUTCOMES_DIR', () => {
    const made = outcomeFileObserver(path.join(dir, 'new', 'outcomes'), 'pod');
    made.close();
    expect(existsSync(made.file)).toBe(true);
    const file = path.join(dir, 'a-file');
    writeFileSync(file, 'x');
    expect(() => outcomeFileObserver(path.join(file, 'sub'), 'pod')).toThrow(ConfigError);
    expect(() => outcomeFileObserver(path.join(file, 'sub'), 'pod')).toThrow(/^OUTCOMES_DIR: expected a folder this process can write/);
  });
});

describe('simulated CPU work', () => {
  it('keeps the event loop turning (timers fire) while it burns CPU', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    await simulateWork({ durationMs: 300, mode: 'cpu' }, undefined);
    clearInterval(timer);
    // A loop blocked for 300 ms would fire the timer at most once.
    expect(ticks).toBeGreaterThanOrEqual(5);
  });

  it('stops at the next slice when aborted', async () => {
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 30);
    await expect(simulateWork({ durationMs: 60_000, mode: 'cpu' }, abort.signal)).rejects.toThrow(/aborted/);
  });
});
