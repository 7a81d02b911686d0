/**
 * The embedded queue when its file is lost or damaged, and the pull consumer loop when fetching
 * fails: a file that lost its contents is an error (never an empty queue), damage is not retryable,
 * and a consumer that cannot fetch stops looking attached, backs off, and gives up only on damage.
 */
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createQueueClient, QueueError, type EmbeddedQueueConfig } from '../src/index.ts';
import { ConsumerLoop, DETACH_AFTER_FAILURES } from '../src/consumer-loop.ts';
import { silentLogger } from '@surge/core';

const root = mkdtempSync(path.join(tmpdir(), 'surge-embedded-damage-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;

function config(): EmbeddedQueueConfig {
  return {
    kind: 'embedded',
    queue: `q-${++counter}`,
    dir: path.join(root, `d-${counter}`),
    leaseMs: 30_000,
    maxDeliveries: 5,
    maxProcessingMs: 60_000,
  };
}

async function filled(count: number): Promise<{ config: EmbeddedQueueConfig; file: string }> {
  const c = config();
  const queue = await createQueueClient(c);
  await queue.send(Array.from({ length: count }, (_, i) => ({ id: `m-${i}`, body: Buffer.alloc(500, 0x61) })));
  await queue.close();
  const file = path.join(c.dir, `${c.queue}.sqlite`);
  for (const suffix of ['-wal', '-shm']) rmSync(`${file}${suffix}`, { force: true });
  return { config: c, file };
}

describe('embedded queue file lost or damaged', () => {
  it('a first run creates the queue and records that it was initialised', async () => {
    const { config: c, file } = await filled(1);
    expect(existsSync(`${file}.initialised`)).toBe(true);
    const queue = await createQueueClient(c);
    expect(await queue.depth()).toMatchObject({ ready: 1 });
    await queue.close();
  });

  it('a queue file truncated to 0 bytes (or deleted) is refused, not read as an empty queue', async () => {
    for (const damage of [(file: string) => truncateSync(file, 0), (file: string) => rmSync(file)]) {
      const { config: c, file } = await filled(3);
      damage(file);
      const error = await createQueueClient(c).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(QueueError);
      expect(error).toMatchObject({
        code: 'QUEUE_INTERNAL',
        retryable: false,
        message: expect.stringMatching(/was initialised .* but holds no queue/),
      });
    }
  });

  it('a file that is not a database is a non-retryable error', async () => {
    const c = config();
    await import('node:fs/promises').then((fs) => fs.mkdir(c.dir, { recursive: true }));
    writeFileSync(path.join(c.dir, `${c.queue}.sqlite`), Buffer.alloc(8192, 0x5a));
    await expect(createQueueClient(c)).rejects.toMatchObject({
      code: 'QUEUE_INTERNAL',
      retryable: false,
      message: expect.stringContaining('damaged'),
    });
  });

  it('damaged pages: receive fails non-retryably, and a consumer gives up once instead of retrying for ever', async () => {
    const { config: c, file } = await filled(400);
    const pageSize = 4096;
    const fd = openSync(file, 'r+');
    try {
      for (let page = 1; page < Math.floor(statSync(file).size / pageSize); page++)
        writeSync(fd, randomBytes(pageSize), 0, pageSize, page * pageSize);
    } finally {
      closeSync(fd);
    }
    const queue = await createQueueClient(c);
    await expect(queue.receive(1, 0)).rejects.toMatchObject({ code: 'QUEUE_INTERNAL', retryable: false });
    const gaveUp: QueueError[] = [];
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    const consumer = await queue.consume(async (d) => d.complete(), {
      concurrency: 2,
      onGiveUp: (error) => {
        gaveUp.push(error);
        done();
      },
    });
    await finished;
    expect(gaveUp).toHaveLength(1);
    expect(gaveUp[0]).toMatchObject({ code: 'QUEUE_INTERNAL', retryable: false });
    expect(consumer.attached).toBe(false);
    await consumer.stop();
    await queue.close();
  });
});

describe('consumer loop on fetch failures', () => {
  it('detaches after repeated retryable failures, never gives up on them, and attaches again when a fetch succeeds', async () => {
    let calls = 0;
    const failUntil = DETACH_AFTER_FAILURES + 1;
    const attachedSeen: boolean[] = [];
    let gaveUp = false;
    let recovered!: () => void;
    const back = new Promise<void>((resolve) => (recovered = resolve));
    // The loop's first fetch runs after a microtask, once `loop` is assigned.
    const loop: ConsumerLoop = ConsumerLoop.start({
      concurrency: 1,
      handler: async () => {},
      logger: silentLogger,
      onGiveUp: () => (gaveUp = true),
      fetch: async (_free, signal) => {
        calls++;
        attachedSeen.push(loop.attached);
        if (calls <= failUntil) throw new QueueError('UNAVAILABLE', 'broker away');
        recovered();
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
        return [];
      },
    });
    await back;
    // The call after DETACH_AFTER_FAILURES failures saw the loop detached; the one that succeeded
    // is still running, and once it returns the loop counts as attached again.
    expect(attachedSeen[DETACH_AFTER_FAILURES]).toBe(false);
    expect(gaveUp).toBe(false);
    await loop.stop();
  });
});
