/**
 * worker-deployment as a real process on an embedded queue file with damaged pages: it must not
 * look healthy while it cannot fetch (readiness 503, the attached gauge 0 after a few failures),
 * must back off instead of retrying five times a second, and must end with the queue exit code.
 */
import { closeSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createQueueClient, type EmbeddedQueueConfig } from '@surge/queue-adapters';
import { workMessages } from '@surge/testing';
import { metricSum, removeTempDirs, startDeployment, tempDir, uniqueQueue } from './support.ts';

afterAll(() => removeTempDirs());

describe('worker-deployment on a damaged embedded queue', () => {
  it('turns not-ready with the attached gauge at 0, backs off, then exits 3 with one line', async () => {
    const dir = tempDir();
    const config: EmbeddedQueueConfig = {
      kind: 'embedded',
      queue: uniqueQueue('damaged'),
      dir: path.join(dir, 'queue'),
      leaseMs: 30_000,
      maxDeliveries: 5,
      maxProcessingMs: 60_000,
    };
    const queue = await createQueueClient(config);
    await queue.send(workMessages({ loadId: 'load-damaged', count: 400 }).outgoing);
    await queue.close();
    const file = path.join(config.dir, `${config.queue}.sqlite`);
    for (const suffix of ['-wal', '-shm']) rmSync(`${file}${suffix}`, { force: true });
    // Random bytes over every page but the first (the schema): opening works, fetching does not.
    const pageSize = 4096;
    const fd = openSync(file, 'r+');
    try {
      for (let page = 1; page < Math.floor(statSync(file).size / pageSize); page++)
        writeSync(fd, randomBytes(pageSize), 0, pageSize, page * pageSize);
    } finally {
      closeSync(fd);
    }

    const deployment = startDeployment({
      QUEUE_KIND: 'embedded',
      QUEUE_NAME: config.queue,
      EMBEDDED_QUEUE_DIR: config.dir,
      RESULTS_DIR: path.join(dir, 'results'),
    });
    const port = await deployment.port;
    let sawNotReady = false;
    let sawDetached = false;
    let exited = false;
    const exit = deployment.proc.exited.then((result) => {
      exited = true;
      return result;
    });
    while (!exited && !(sawNotReady && sawDetached)) {
      try {
        if ((await fetch(`http://127.0.0.1:${port}/readyz`)).status === 503) sawNotReady = true;
        const metrics = await deployment.metrics();
        if (metrics.includes('surge_worker_consumer_attached') && metricSum(metrics, 'surge_worker_consumer_attached') === 0)
          sawDetached = true;
      } catch {
        // the process is on its way out
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(sawNotReady).toBe(true);
    expect(sawDetached).toBe(true);

    expect(await exit).toEqual({ code: 3, signal: null });
    expect(deployment.proc.stderr().trim().split('\n')).toHaveLength(1);
    expect(deployment.proc.stderr()).toMatch(/^worker-deployment: exit 3: queue failure: .*damaged/);
    const retries = deployment.proc.logs.filter((l) => l.msg === 'fetching deliveries failed; retrying');
    // Bounded and spaced out: each retry waits longer than the one before.
    expect(retries.length).toBeGreaterThan(0);
    expect(retries.length).toBeLessThan(5);
    const waits = retries.map((l) => l.retryInMs as number);
    expect(waits).toEqual([...waits].sort((a, b) => a - b));
    expect(new Set(waits).size).toBe(waits.length);
  }, 120_000);
});
