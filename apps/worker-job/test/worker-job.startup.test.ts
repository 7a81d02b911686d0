/**
 * worker-job as a real process when its folders or its queue file cannot work: a folder that
 * cannot be made is a configuration error (exit 2), a queue file that lost its contents or is
 * damaged is a queue failure (exit 3) — never an empty queue, never a hang.
 */
import { openSync, closeSync, statSync, truncateSync, writeFileSync, writeSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createQueueClient, type EmbeddedQueueConfig } from '@surge/queue-adapters';
import { workMessages } from '@surge/testing';
import { removeTempDirs, runJobToEnd, tempDir, uniqueQueue } from './support.ts';

afterAll(() => removeTempDirs());

/** A queue with `count` messages, closed: the job is the only one to open it. */
async function filledQueue(count: number) {
  const dir = tempDir();
  const config: EmbeddedQueueConfig = {
    kind: 'embedded',
    queue: uniqueQueue('startup'),
    dir: path.join(dir, 'queue'),
    leaseMs: 30_000,
    maxDeliveries: 5,
    maxProcessingMs: 60_000,
  };
  const queue = await createQueueClient(config);
  await queue.send(workMessages({ loadId: 'load-startup', count }).outgoing);
  await queue.close();
  const file = path.join(config.dir, `${config.queue}.sqlite`);
  // Closing the last connection checkpoints the WAL; remove what is left so only the main file counts.
  for (const suffix of ['-wal', '-shm']) rmSync(`${file}${suffix}`, { force: true });
  const env = {
    QUEUE_KIND: 'embedded',
    QUEUE_NAME: config.queue,
    EMBEDDED_QUEUE_DIR: config.dir,
    RESULTS_DIR: path.join(dir, 'results'),
    RECEIVE_WAIT_MS: '200',
  };
  return { file, env };
}

describe('worker-job start-up faults', () => {
  it.each([
    ['EMBEDDED_QUEUE_DIR', '/proc/surge-queue/x'],
    ['RESULTS_DIR', '/proc/surge-results/x'],
  ])('%s under /proc: one line naming it, exit 2, no spin', async (variable, dir) => {
    const { env } = await filledQueue(1);
    const run = await runJobToEnd({ ...env, [variable]: dir });
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(new RegExp(`^worker-job: exit 2: configuration error: ${variable}: expected a folder outside /proc`));
  });

  it('EMBEDDED_QUEUE_DIR below a file: exit 2 naming the variable', async () => {
    const file = path.join(tempDir(), 'a-file');
    writeFileSync(file, 'x');
    const run = await runJobToEnd({
      QUEUE_KIND: 'embedded',
      EMBEDDED_QUEUE_DIR: path.join(file, 'queue'),
      RESULTS_DIR: path.join(tempDir(), 'results'),
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^worker-job: exit 2: configuration error: EMBEDDED_QUEUE_DIR: expected a path whose parts are folders/);
  });

  it('a queue file truncated to 0 bytes is a queue failure (exit 3), not an empty queue', async () => {
    const { file, env } = await filledQueue(3);
    truncateSync(file, 0);
    const run = await runJobToEnd(env);
    expect(run.code).toBe(3);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/^worker-job: exit 3: .*was initialised .* but holds no queue/);
  });

  it('random bytes over the pages after the first: exit 3 (queue failure), not 5', async () => {
    const { file, env } = await filledQueue(400);
    const pageSize = 4096;
    const pages = Math.floor(statSync(file).size / pageSize);
    expect(pages).toBeGreaterThan(4);
    const fd = openSync(file, 'r+');
    try {
      for (let page = 1; page < pages; page++) writeSync(fd, randomBytes(pageSize), 0, pageSize, page * pageSize);
    } finally {
      closeSync(fd);
    }
    const run = await runJobToEnd(env);
    expect(run.code).toBe(3);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/^worker-job: exit 3: queue failure: receiving from the embedded queue failed: the queue file is damaged/);
  });
});
