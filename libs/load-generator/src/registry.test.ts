import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '@surge/core';
import { decodeWorkMessage, type LoadStatus } from '@surge/contracts';
import { QueueError, createQueueClient, type OutgoingMessage, type QueueClient } from '@surge/queue-adapters';
import { DEFAULT_SEND_WINDOW, LoadRegistry, type LoadRegistryOptions } from './index.ts';

let dir: string;
let queueIndex = 0;
const clients: QueueClient[] = [];

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'surge-loadgen-'));
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  rmSync(dir, { recursive: true, force: true });
});

async function openQueue(): Promise<QueueClient> {
  const client = await createQueueClient({
    kind: 'embedded',
    queue: `q${++queueIndex}`,
    dir,
    leaseMs: 30_000,
    maxDeliveries: 5,
    maxProcessingMs: 60_000,
  });
  clients.push(client);
  return client;
}

function registry(queue: Pick<QueueClient, 'send' | 'queue'>, overrides: Partial<LoadRegistryOptions> = {}): LoadRegistry {
  return new LoadRegistry({ queue, maxConcurrentLoads: 2, batchSize: 50, sendRetryMs: 2_000, logger: silentLogger, ...overrides });
}

/** Reads every message off the queue and returns their seqs. */
async function drainSeqs(queue: QueueClient): Promise<number[]> {
  const seqs: number[] = [];
  for (;;) {
    const batch = await queue.receive(500, 50);
    if (batch.length === 0) return seqs;
    for (const delivery of batch) {
      const decoded = decodeWorkMessage(delivery.body);
      if (!decoded.ok) throw new Error('bad message on the queue');
      seqs.push(decoded.value.seq);
      await delivery.complete();
    }
  }
}

async function waitUntil(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 5));
}

describe('load registry', () => {
  it('sends a load exactly once per seq and reports it completed', async () => {
    const queue = await openQueue();
    const loads = registry(queue);
    const { status, created } = loads.start({ count: 1_234, work: { mode: 'cpu' } });
    expect(created).toBe(true);
    const final = (await loads.waitFor(status.loadId)) as LoadStatus;
    expect(final).toMatchObject({ state: 'completed', sent: 1_234, total: 1_234 });
    expect(final.finishedAt).toBeDefined();
    expect((await queue.depth()).ready).toBe(1_234);
    expect((await drainSeqs(queue)).sort((a, b) => a - b)).toEqual(Array.from({ length: 1_234 }, (_, i) => i));
  });

  it('is idempotent by client load id and refuses another body under the same id', async () => {
    const queue = await openQueue();
    const loads = registry(queue);
    const first = loads.start({ loadId: 'run-1', count: 10, work: { durationMs: 5, mode: 'wait' } });
    // Same body with keys in another order is the same request.
    const again = loads.start({ work: { mode: 'wait', durationMs: 5 }, count: 10, loadId: 'run-1' });
    expect(again).toMatchObject({ created: false, status: { loadId: 'run-1' } });
    expect(() => loads.start({ loadId: 'run-1', count: 11 })).toThrow(expect.objectContaining({ code: 'LOAD_CONFLICT', retryable: false }));
    await loads.waitFor(first.status.loadId);
    // Still the same load after it finished: a retry never sends twice.
    expect(loads.start({ loadId: 'run-1', count: 10, work: { durationMs: 5, mode: 'wait' } }).created).toBe(false);
    expect((await queue.depth()).ready).toBe(10);
  });

  it('refuses loads over the concurrency limit and cancels within one batch', async () => {
    const queue = await openQueue();
    const loads = registry(queue, { maxConcurrentLoads: 1 });
    const slow = loads.start({ count: 100_000, rate: 200 }).status;
    expect(() => loads.start({ count: 1 })).toThrow(expect.objectContaining({ code: 'LOAD_LIMIT', retryable: true }));
    await waitUntil(() => (loads.get(slow.loadId)?.sent ?? 0) >= 40);
    const atCancel = loads.cancel(slow.loadId)!.sent;
    const final = (await loads.waitFor(slow.loadId))!;
    expect(final.state).toBe('cancelled');
    // 200 msg/s sends batches of 20: at most the batch in flight lands after the cancel.
    expect(final.sent - atCancel).toBeLessThanOrEqual(20);
    expect((await queue.depth()).ready).toBe(final.sent);
    expect(loads.start({ count: 1 }).created).toBe(true);
  });

  it('stops a full-speed load within its send window', async () => {
    const queue = await openQueue();
    const loads = registry(queue);
    const { loadId } = loads.start({ count: 1_000_000 }).status;
    await waitUntil(() => (loads.get(loadId)?.sent ?? 0) >= 1_000);
    const atCancel = loads.cancel(loadId)!.sent;
    const final = (await loads.waitFor(loadId))!;
    expect(final.state).toBe('cancelled');
    expect(final.sent - atCancel).toBeLessThanOrEqual(DEFAULT_SEND_WINDOW * 50);
    expect((await queue.depth()).ready).toBe(final.sent);
  });

  it('retries a broker that comes back and still sends every message once', async () => {
    const queue = await openQueue();
    let failures = 0;
    const seen = new Set<string>();
    const flaky = {
      queue: queue.queue,
      send: async (batch: readonly OutgoingMessage[]) => {
        // Every batch fails on its first attempt; the retry resends the very same messages.
        if (!seen.has(batch[0]!.id)) {
          seen.add(batch[0]!.id);
          failures++;
          throw new QueueError('UNAVAILABLE', 'connection lost', { queue: queue.queue });
        }
        await queue.send(batch);
      },
    };
    const loads = registry(flaky, { batchSize: 100 });
    const final = (await loads.waitFor(loads.start({ count: 500 }).status.loadId))!;
    expect(final).toMatchObject({ state: 'completed', sent: 500 });
    expect(failures).toBe(5);
    expect((await drainSeqs(queue)).sort((a, b) => a - b)).toEqual(Array.from({ length: 500 }, (_, i) => i));
  });

  it('fails after the retry budget with exactly the confirmed count', async () => {
    const queue = await openQueue();
    let accepted = 0;
    const dying = {
      queue: queue.queue,
      send: async (batch: readonly OutgoingMessage[]) => {
        // The broker takes 300 messages, then goes away (several batches are in flight at full speed).
        if (accepted >= 300) throw new QueueError('UNAVAILABLE', 'broker gone', { queue: queue.queue });
        accepted += batch.length;
        await queue.send(batch);
      },
    };
    const loads = registry(dying, { batchSize: 100, sendRetryMs: 400 });
    const final = (await loads.waitFor(loads.start({ count: 1_000 }).status.loadId))!;
    expect(final.state).toBe('failed');
    expect(final.sent).toBe(300);
    expect(final.error).toMatch(/^QUEUE_UNAVAILABLE: broker gone/);
    expect((await queue.depth()).ready).toBe(300);
  });

  it('reports as unconfirmed what the broker took without confirming, so sent + unconfirmed is what it may hold', async () => {
    const queue = await openQueue();
    let stored = 0;
    const confirmLost = {
      queue: queue.queue,
      send: async (batch: readonly OutgoingMessage[]) => {
        // After 300 messages the broker still stores each batch but the confirm never arrives.
        await queue.send(batch);
        stored += batch.length;
        if (stored > 300) throw new QueueError('UNAVAILABLE', 'connection closed before the confirm', { queue: queue.queue });
      },
    };
    const loads = registry(confirmLost, { batchSize: 100, sendRetryMs: 300, sendWindow: 1 });
    const final = (await loads.waitFor(loads.start({ count: 1_000 }).status.loadId))!;
    expect(final).toMatchObject({ state: 'failed', sent: 300, unconfirmed: 100 });
    // The retries resent the same batch (same ids); the ids on the queue are sent + unconfirmed.
    expect(new Set(await drainSeqs(queue)).size).toBe(final.sent + final.unconfirmed!);
  });

  it('refuses a load over the byte budget, naming the limit, and counts what running loads may still send', async () => {
    const queue = await openQueue();
    const loads = registry(queue, { maxLoadBytes: 1_000_000 });
    expect(() => loads.start({ count: 10, payloadBytes: 100_000 })).toThrow(
      expect.objectContaining({ code: 'LOAD_TOO_LARGE', retryable: false, message: expect.stringContaining('1000000 bytes') }),
    );
    expect(loads.list()).toEqual([]);
    const slow = loads.start({ count: 20, payloadBytes: 1_000, rate: 5 }).status.loadId;
    expect(loads.pendingBytes).toBe(20 * (1_000 + 400));
    loads.cancel(slow);
    await loads.waitFor(slow);
    expect(loads.pendingBytes).toBe(0);
  });

  it('fails at once on an error that retrying cannot fix', async () => {
    let attempts = 0;
    const tooLarge = {
      queue: 'x',
      send: async () => {
        attempts++;
        throw new QueueError('MESSAGE_TOO_LARGE', 'too large');
      },
    };
    const loads = registry(tooLarge, { sendRetryMs: 60_000 });
    const final = (await loads.waitFor(loads.start({ count: 10 }).status.loadId))!;
    expect(final).toMatchObject({ state: 'failed', sent: 0 });
    expect(attempts).toBe(1);
  });

  it('shuts down: takes no new loads, lets short loads finish, cancels long ones', async () => {
    const queue = await openQueue();
    const loads = registry(queue);
    const short = loads.start({ count: 200 }).status;
    const long = loads.start({ count: 100_000, rate: 100 }).status;
    const finals = await loads.shutdown(300);
    expect(finals.find((s) => s.loadId === short.loadId)).toMatchObject({ state: 'completed', sent: 200 });
    const longFinal = finals.find((s) => s.loadId === long.loadId)!;
    expect(longFinal.state).toBe('cancelled');
    expect((await queue.depth()).ready).toBe(200 + longFinal.sent);
    expect(() => loads.start({ count: 1 })).toThrow(expect.objectContaining({ code: 'LOAD_CLOSED' }));
    // Status of finished loads stays readable during shutdown.
    expect(loads.list().map((s) => s.loadId)).toEqual([long.loadId, short.loadId]);
  });

  it('forgets the oldest finished loads beyond its retention', async () => {
    const queue = await openQueue();
    const loads = registry(queue, { retainFinished: 2 });
    for (let i = 0; i < 4; i++) await loads.waitFor(loads.start({ count: 1, loadId: `l${i}` }).status.loadId);
    await new Promise((r) => setImmediate(r));
    expect(loads.list().map((s) => s.loadId)).toEqual(['l3', 'l2']);
  });
});
