/**
 * The queue contract: one suite, run against every backend. Each backend's test file calls
 * `runQueueContractSuite` with a way to make a config for a fresh queue; every test uses its own queue.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createQueueClient, isQueueError, type Delivery, type QueueClient, type QueueConfig, type QueueDepth } from '../src/index.ts';

export interface ContractTarget {
  /** Backend name shown in test titles. */
  name: string;
  /**
   * A config for a queue that no other test uses. `maxDeliveries` must be honoured, and a delivery
   * held by a dead process must come back within `redeliveryAfterDeathMs`.
   */
  config(queue: string, options: { maxDeliveries: number }): QueueConfig | Promise<QueueConfig>;
  /** Upper bound for a killed holder's message to be visible again (lease or lock time, plus slack). */
  redeliveryAfterDeathMs: number;
  /** Messages in the back-pressure burst; 100,000 by requirement: far more than any socket buffer or prefetch window holds. */
  burst?: number;
  /** npm packages that creating and using this backend must never load (other backends' SDKs). */
  forbiddenModules?: readonly string[];
  /** npm packages this backend does load (a positive control for the check above). */
  requiredModules?: readonly string[];
  /** Depth can lag the broker (management API statistics): how long to keep polling for the expected value. */
  depthSettleMs?: number;
}

const CHILD = fileURLToPath(new URL('./child.ts', import.meta.url));

export function body(i: number): Buffer {
  return Buffer.from(JSON.stringify({ i }));
}

/**
 * Asserts that `client.depth()` reaches `expected` within `settleMs` (broker statistics can lag).
 * Inside the window a retryable error (statistics not sampled yet) is a reading to wait out.
 */
export async function expectDepthWithin(client: QueueClient, expected: QueueDepth, settleMs: number): Promise<void> {
  const deadline = Date.now() + settleMs;
  const read = async (): Promise<QueueDepth | undefined> => {
    try {
      return await client.depth();
    } catch (error) {
      if (isQueueError(error) && error.retryable && Date.now() < deadline) return undefined;
      throw error;
    }
  };
  let depth = await read();
  while (JSON.stringify(depth) !== JSON.stringify(expected) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    depth = await read();
  }
  expect(depth).toEqual(expected);
}

export function runQueueContractSuite(target: ContractTarget): void {
  describe(`queue contract: ${target.name}`, () => {
    const open: QueueClient[] = [];
    afterEach(async () => {
      await Promise.allSettled(open.splice(0).map((c) => c.close()));
    });

    async function client(options: { maxDeliveries?: number; queue?: string } = {}): Promise<{ client: QueueClient; config: QueueConfig }> {
      const queue = options.queue ?? `contract-${randomUUID().slice(0, 8)}`;
      const config = await target.config(queue, { maxDeliveries: options.maxDeliveries ?? 5 });
      const c = await createQueueClient(config);
      open.push(c);
      return { client: c, config };
    }

    async function sendN(c: QueueClient, n: number, batch = 100): Promise<string[]> {
      const ids: string[] = [];
      for (let i = 0; i < n; i += batch) {
        const messages = Array.from({ length: Math.min(batch, n - i) }, (_, j) => ({
          id: randomUUID(),
          body: body(i + j),
          properties: { seq: String(i + j) },
        }));
        await c.send(messages);
        ids.push(...messages.map((m) => m.id));
      }
      return ids;
    }

    const expectDepth = (c: QueueClient, expected: QueueDepth): Promise<void> => expectDepthWithin(c, expected, target.depthSettleMs ?? 0);

    async function receiveOne(c: QueueClient, waitMs = 10_000): Promise<Delivery> {
      const [delivery] = await c.receive(1, waitMs);
      if (!delivery) throw new Error(`no delivery within ${waitMs} ms`);
      return delivery;
    }

    it('send N, receive all, complete each: each id exactly once, depth back to 0', async () => {
      const { client: c } = await client();
      const sent = await sendN(c, 300);
      await expectDepth(c, { ready: 300, inFlight: 0, deadLettered: 0 });
      const seen = new Map<string, number>();
      while (seen.size < sent.length) {
        const batch = await c.receive(50, 5_000);
        expect(batch.length).toBeGreaterThan(0);
        for (const d of batch) {
          seen.set(d.id, (seen.get(d.id) ?? 0) + 1);
          expect(d.deliveryCount).toBe(1);
          expect(JSON.parse(d.body.toString()).i).toBe(Number(d.properties['seq']));
          await d.complete();
        }
      }
      expect([...seen.keys()].sort()).toEqual([...sent].sort());
      expect([...seen.values()].every((n) => n === 1)).toBe(true);
      expect(await c.receive(10, 300)).toEqual([]);
      await expectDepth(c, { ready: 0, inFlight: 0, deadLettered: 0 });
    });

    it('abandon: redelivered with delivery count + 1; depth counts it in flight while held', async () => {
      const { client: c } = await client();
      const [id] = await sendN(c, 1);
      const first = await receiveOne(c);
      expect(first.id).toBe(id);
      expect(first.deliveryCount).toBe(1);
      await expectDepth(c, { ready: 0, inFlight: 1, deadLettered: 0 });
      await first.abandon();
      const second = await receiveOne(c);
      expect(second.id).toBe(id);
      expect(second.deliveryCount).toBe(2);
      await second.complete();
      await expectDepth(c, { ready: 0, inFlight: 0, deadLettered: 0 });
    });

    it('dead-letter: in the dead-letter queue with its reason, never redelivered', async () => {
      const { client: c } = await client();
      const [id] = await sendN(c, 1);
      const d = await receiveOne(c);
      await d.deadLetter('InvalidMessage', 'work.mode: must be one of "wait", "cpu"');
      expect(await c.receive(1, 500)).toEqual([]);
      await expectDepth(c, { ready: 0, inFlight: 0, deadLettered: 1 });
      const [dead] = await c.peekDeadLetters(10);
      expect(dead).toMatchObject({ id, reason: 'InvalidMessage', description: 'work.mode: must be one of "wait", "cpu"' });
      expect(JSON.parse(dead!.body.toString())).toEqual({ i: 0 });
    });

    it('after K failed deliveries a message is dead-lettered automatically', async () => {
      const K = 3;
      const { client: c } = await client({ maxDeliveries: K });
      const [id] = await sendN(c, 1);
      for (let attempt = 1; attempt <= K; attempt++) {
        const d = await receiveOne(c);
        expect(d.deliveryCount).toBe(attempt);
        await d.abandon();
      }
      expect(await c.receive(1, 500)).toEqual([]);
      await expectDepth(c, { ready: 0, inFlight: 0, deadLettered: 1 });
      const [dead] = await c.peekDeadLetters(10);
      expect(dead?.id).toBe(id);
      expect(dead?.reason).toMatch(/MaxDeliveryCount/i);
    });

    it('consume with concurrency C never has more than C in flight', async () => {
      const C = 4;
      const N = 60;
      const { client: c } = await client();
      await sendN(c, N);
      let running = 0;
      let peak = 0;
      let done = 0;
      let consumerPeak = 0;
      const finished = new Promise<void>((resolve) => {
        void c
          .consume(
            async (d) => {
              running++;
              peak = Math.max(peak, running);
              await new Promise((r) => setTimeout(r, 5));
              running--;
              await d.complete();
              if (++done === N) resolve();
            },
            { concurrency: C },
          )
          .then((consumer) => {
            const timer = setInterval(() => (consumerPeak = Math.max(consumerPeak, consumer.inFlight)), 1);
            void finished.then(async () => {
              clearInterval(timer);
              await consumer.stop();
            });
          });
      });
      await finished;
      expect(peak).toBeLessThanOrEqual(C);
      expect(peak).toBeGreaterThan(1);
      expect(consumerPeak).toBeLessThanOrEqual(C);
      await expectDepth(c, { ready: 0, inFlight: 0, deadLettered: 0 });
    });

    it('stop() takes no new message and resolves when in-flight ones are settled', async () => {
      const N = 20;
      const { client: c } = await client();
      await sendN(c, N);
      let started = 0;
      let settled = 0;
      let startedAfterStop = 0;
      let stopping = false;
      let firstStarted!: () => void;
      const first = new Promise<void>((r) => (firstStarted = r));
      const consumer = await c.consume(
        async (d) => {
          if (stopping) startedAfterStop++;
          started++;
          firstStarted();
          await new Promise((r) => setTimeout(r, 300));
          await d.complete();
          settled++;
        },
        { concurrency: 2 },
      );
      expect(consumer.attached).toBe(true);
      await first;
      stopping = true;
      await consumer.stop();
      expect(consumer.inFlight).toBe(0);
      expect(settled).toBe(started);
      expect(startedAfterStop).toBe(0);
      expect(started).toBeGreaterThan(0);
      expect(started).toBeLessThan(N);
      await new Promise((r) => setTimeout(r, 300));
      expect(settled).toBe(started);
      await expectDepth(c, { ready: N - settled, inFlight: 0, deadLettered: 0 });
    });

    it('a handler that throws or does not settle: the delivery is abandoned and comes back', async () => {
      const { client: c } = await client();
      const [id] = await sendN(c, 1);
      const seen: number[] = [];
      let resolveDone!: () => void;
      const done = new Promise<void>((r) => (resolveDone = r));
      const consumer = await c.consume(
        async (d) => {
          seen.push(d.deliveryCount);
          if (d.deliveryCount === 1) throw new Error('boom');
          if (d.deliveryCount === 2) return;
          await d.complete();
          resolveDone();
        },
        { concurrency: 1 },
      );
      await done;
      await consumer.stop();
      expect(seen).toEqual([1, 2, 3]);
      expect(id).toBeDefined();
      await expectDepth(c, { ready: 0, inFlight: 0, deadLettered: 0 });
    });

    it('a consumer process killed with SIGKILL mid-message: the message is delivered again to another consumer', async () => {
      const { client: c, config } = await client();
      const [id] = await sendN(c, 1);
      const child = spawn(process.execPath, [CHILD, 'hold'], {
        env: { ...process.env, SURGE_CONTRACT_CONFIG: JSON.stringify(config) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      const held = await new Promise<string>((resolve, reject) => {
        let out = '';
        let err = '';
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          const match = /held (\S+)/.exec(out);
          if (match) resolve(match[1]!);
        });
        child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
        child.once('exit', (code) => reject(new Error(`child exited (${code}) before holding a message: ${out}${err}`)));
      });
      expect(held).toBe(id);
      expect(await c.receive(1, 200)).toEqual([]);
      child.kill('SIGKILL');
      await exited;
      const again = await receiveOne(c, target.redeliveryAfterDeathMs);
      expect(again.id).toBe(id);
      expect(again.deliveryCount).toBeGreaterThanOrEqual(2);
      await again.complete();
      await expectDepth(c, { ready: 0, inFlight: 0, deadLettered: 0 });
    });

    it('a burst of messages respects back-pressure: memory stays bounded', async () => {
      const burst = target.burst ?? 100_000;
      const { client: c } = await client();
      const filler = 'x'.repeat(256);
      global.gc?.();
      const before = process.memoryUsage().rss;
      let peak = before;
      const batch = 500;
      for (let i = 0; i < burst; i += batch) {
        const messages = Array.from({ length: Math.min(batch, burst - i) }, (_, j) => ({
          id: randomUUID(),
          body: Buffer.from(`{"i":${i + j},"f":"${filler}"}`),
        }));
        await c.send(messages);
        if (i % 10_000 === 0) peak = Math.max(peak, process.memoryUsage().rss);
      }
      peak = Math.max(peak, process.memoryUsage().rss);
      // The whole burst is ~30 MB of bodies; holding it unconfirmed in memory would show here.
      expect(peak - before).toBeLessThan(150 * 1024 * 1024);
      await expectDepth(c, { ready: burst, inFlight: 0, deadLettered: 0 });
    }, 300_000);

    it("loads only its own SDK: no other backend's client library", async () => {
      const { config } = await client();
      const { code, out } = await runChild('modules', config);
      expect(code).toBe(0);
      const modules = JSON.parse(/modules (.*)/.exec(out)?.[1] ?? 'null') as string[];
      // The recorder works (it saw @surge/core, which every backend imports by name), and the backend's own SDK is there when named.
      expect(modules).toContain('@surge/core');
      for (const name of target.requiredModules ?? []) expect(modules).toContain(name);
      for (const name of target.forbiddenModules ?? []) expect(modules).not.toContain(name);
    }, 45_000);

    it('after close() the process exits by itself (no open handle)', async () => {
      const { config } = await client();
      const { code, out, err } = await runChild('roundtrip', config);
      expect(err).toBe('');
      expect(out).toContain('closed');
      expect(code).toBe(0);
    }, 45_000);
  });
}

/** Runs the child in `mode` and waits for it to exit on its own (30 s at most, then SIGKILL → code null). */
async function runChild(mode: string, config: QueueConfig): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [CHILD, mode], {
    env: { ...process.env, SURGE_CONTRACT_CONFIG: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve(null);
    }, 30_000);
    child.once('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  return { code, out, err };
}
