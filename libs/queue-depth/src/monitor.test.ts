import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { createQueueClient, QueueError, type QueueClient, type QueueDepth } from '@surge/queue-adapters';
import { QueueDepthMonitor, registerQueueDepthMetrics } from './index.ts';

/** A QueueClient whose depth() the test scripts and counts; everything else is unused here. */
function fakeClient(queue: string, script: { depth: QueueDepth | Error; delayMs?: number }) {
  let depthCalls = 0;
  let closed = false;
  const client = {
    kind: 'embedded',
    queue,
    async depth() {
      depthCalls++;
      await new Promise((resolve) => setTimeout(resolve, script.delayMs ?? 10));
      if (script.depth instanceof Error) throw script.depth;
      return { ...script.depth };
    },
    async close() {
      closed = true;
    },
  } as unknown as QueueClient;
  return { client, calls: () => depthCalls, closed: () => closed };
}

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('QueueDepthMonitor', () => {
  it.each([
    ['a negative ready', { ready: -5, inFlight: 0, deadLettered: 0 }],
    ['a huge inFlight', { ready: 0, inFlight: 1e308, deadLettered: 0 }],
    ['a fractional deadLettered', { ready: 1, inFlight: 0, deadLettered: 0.5 }],
    ['NaN', { ready: Number.NaN, inFlight: 0, deadLettered: 0 }],
    ['a total beyond 2^53 - 1', { ready: Number.MAX_SAFE_INTEGER, inFlight: 1, deadLettered: 0 }],
  ])('serves %s from the backend as a failure QUEUE_DEPTH_INVALID, never as a number', async (_what, depth) => {
    const fake = fakeClient('q', { depth });
    const monitor = new QueueDepthMonitor({ queues: ['q'], openClient: async () => fake.client, minIntervalMs: 0 });
    const registry = new Registry();
    registerQueueDepthMetrics({ registry, monitor });
    expect(await monitor.read('q')).toMatchObject({ ok: false, error: { code: 'QUEUE_DEPTH_INVALID', retryable: true } });
    const text = await registry.metrics();
    expect(text).toContain('surge_queue_up{queue="q"} 0');
    expect(text).not.toMatch(/surge_queue_messages_ready\{/);
  });

  it('single-flights: 100 concurrent scrapes cost one depth() call', async () => {
    const fake = fakeClient('q', { depth: { ready: 7, inFlight: 2, deadLettered: 1 }, delayMs: 50 });
    const monitor = new QueueDepthMonitor({ queues: ['q'], openClient: async () => fake.client, minIntervalMs: 5_000 });
    const registry = new Registry();
    registerQueueDepthMetrics({ registry, monitor });
    const texts = await Promise.all(Array.from({ length: 100 }, () => registry.metrics()));
    expect(fake.calls()).toBe(1);
    for (const text of texts) {
      expect(text).toContain('surge_queue_messages_ready{queue="q"} 7\n');
      expect(text).toContain('surge_queue_messages_in_flight{queue="q"} 2\n');
      expect(text).toContain('surge_queue_messages_dead_lettered{queue="q"} 1\n');
      expect(text).toContain('surge_queue_up{queue="q"} 1\n');
    }
    expect(texts.at(-1)).toContain('surge_queue_depth_reads_total{queue="q",outcome="ok"} 1\n');
  });

  it('reuses a reading for minIntervalMs, then reads again', async () => {
    const c = clock();
    const script = { depth: { ready: 1, inFlight: 0, deadLettered: 0 } as QueueDepth | Error };
    const fake = fakeClient('q', script);
    const monitor = new QueueDepthMonitor({ queues: ['q'], openClient: async () => fake.client, minIntervalMs: 5_000, now: c.now });
    expect(await monitor.read('q')).toMatchObject({ ok: true, depth: { ready: 1 } });
    script.depth = { ready: 2, inFlight: 0, deadLettered: 0 };
    c.advance(4_999);
    expect(await monitor.read('q')).toMatchObject({ ok: true, depth: { ready: 1 } });
    c.advance(1);
    const fresh = await monitor.read('q');
    expect(fresh).toMatchObject({ ok: true, depth: { ready: 2 } });
    expect(fresh.observedAt.getTime()).toBe(c.now());
    expect(fake.calls()).toBe(2);
  });

  it('serves a broker error as up 0 with no depth series, and caches the failure too', async () => {
    const c = clock();
    const script = { depth: { ready: 9, inFlight: 1, deadLettered: 0 } as QueueDepth | Error };
    const fake = fakeClient('q', script);
    const errors: string[] = [];
    const monitor = new QueueDepthMonitor({
      queues: ['q'],
      openClient: async () => fake.client,
      minIntervalMs: 1_000,
      now: c.now,
      onRead: (_queue, failure) => errors.push(failure?.code ?? 'ok'),
    });
    const registry = new Registry();
    registerQueueDepthMetrics({ registry, monitor, constLabels: { cluster: 'aks' } });
    expect(await registry.metrics()).toContain('surge_queue_messages_ready{cluster="aks",queue="q"} 9\n');

    script.depth = new QueueError('UNAVAILABLE', 'broker gone', { queue: 'q' });
    c.advance(1_000);
    const down = await Promise.all(Array.from({ length: 20 }, () => registry.metrics()));
    for (const text of down) {
      expect(text).toContain('surge_queue_up{cluster="aks",queue="q"} 0\n');
      expect(text).not.toMatch(/^surge_queue_messages_\w+\{/m);
    }
    expect(await monitor.read('q')).toMatchObject({ ok: false, error: { code: 'QUEUE_UNAVAILABLE', retryable: true } });
    expect(fake.calls()).toBe(2);
    expect(errors).toEqual(['ok', 'QUEUE_UNAVAILABLE']);
    expect(await registry.metrics()).toContain('surge_queue_depth_reads_total{cluster="aks",queue="q",outcome="error"} 1\n');

    script.depth = { ready: 3, inFlight: 0, deadLettered: 0 };
    c.advance(1_000);
    expect(await registry.metrics()).toContain('surge_queue_messages_ready{cluster="aks",queue="q"} 3\n');
  });

  it('keeps answering when the client cannot be opened, and opens it once the broker is back', async () => {
    let attempts = 0;
    const fake = fakeClient('q', { depth: { ready: 4, inFlight: 0, deadLettered: 0 } });
    const c = clock();
    const monitor = new QueueDepthMonitor({
      queues: ['q'],
      minIntervalMs: 100,
      now: c.now,
      openClient: async () => {
        attempts++;
        if (attempts < 3) throw new QueueError('UNAVAILABLE', 'connection refused');
        return fake.client;
      },
    });
    expect(await monitor.read('q')).toMatchObject({ ok: false, error: { code: 'QUEUE_UNAVAILABLE' } });
    c.advance(100);
    expect(await monitor.read('q')).toMatchObject({ ok: false });
    c.advance(100);
    expect(await monitor.read('q')).toMatchObject({ ok: true, depth: { ready: 4 } });
    c.advance(100);
    await monitor.read('q');
    expect(attempts).toBe(3);
    await monitor.close();
    expect(fake.closed()).toBe(true);
    c.advance(100);
    expect(await monitor.read('q')).toMatchObject({ ok: false, error: { code: 'QUEUE_CLOSED' } });
  });

  it('bounds a hanging broker call with a timeout', async () => {
    const fake = fakeClient('q', { depth: { ready: 1, inFlight: 0, deadLettered: 0 }, delayMs: 10_000 });
    const monitor = new QueueDepthMonitor({ queues: ['q'], openClient: async () => fake.client, minIntervalMs: 0, timeoutMs: 50 });
    expect(await monitor.read('q')).toMatchObject({ ok: false, error: { code: 'TIMEOUT', retryable: true } });
  });

  it('knows its queues and refuses others', async () => {
    const monitor = new QueueDepthMonitor({
      queues: ['a', 'b', 'a'],
      openClient: async (q) => fakeClient(q, { depth: { ready: 0, inFlight: 0, deadLettered: 0 } }).client,
      minIntervalMs: 0,
    });
    expect(monitor.queues).toEqual(['a', 'b']);
    expect(monitor.has('b')).toBe(true);
    expect(monitor.has('c')).toBe(false);
    await expect(monitor.read('c')).rejects.toThrow(RangeError);
  });
});

describe('QueueDepthMonitor on the embedded backend', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'surge-depth-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reports ready, in-flight and dead-lettered as the queue holds them', async () => {
    const config = { kind: 'embedded' as const, dir, leaseMs: 30_000, maxDeliveries: 5, maxProcessingMs: 60_000 };
    const producer = await createQueueClient({ ...config, queue: 'depth-a' });
    const monitor = new QueueDepthMonitor({
      queues: ['depth-a', 'depth-b'],
      openClient: (queue) => createQueueClient({ ...config, queue }),
      minIntervalMs: 0,
    });
    try {
      await producer.send(Array.from({ length: 5 }, (_, i) => ({ id: `m-${i}`, body: Buffer.from('{}') })));
      const [first, second] = await producer.receive(2, 1_000);
      await first!.deadLetter('test', 'dead-lettered by the depth test');
      expect(second).toBeDefined();
      const readings = await monitor.readAll();
      expect(readings[0]).toMatchObject({ queue: 'depth-a', ok: true, depth: { ready: 3, inFlight: 1, deadLettered: 1 } });
      expect(readings[1]).toMatchObject({ queue: 'depth-b', ok: true, depth: { ready: 0, inFlight: 0, deadLettered: 0 } });
    } finally {
      await monitor.close();
      await producer.close();
    }
  });
});
