/**
 * worker-job as a real process (`node src/main.ts`) on the embedded backend: what a ScaledJob pod
 * does, including exit codes, empty queues, SIGTERM mid-work, poison and invalid messages.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createQueueClient, type EmbeddedQueueConfig, type QueueClient } from '@surge/queue-adapters';
import { createResultSink } from '@surge/results';
import { runPool, workMessages } from '@surge/testing';
import { removeTempDirs, runJob, runJobToEnd, tempDir, uniqueQueue } from './support.ts';

const clients: QueueClient[] = [];
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  removeTempDirs();
});

async function setup(options: { maxDeliveries?: number } = {}) {
  const dir = tempDir();
  const config: EmbeddedQueueConfig = {
    kind: 'embedded',
    queue: uniqueQueue('job'),
    dir: path.join(dir, 'queue'),
    leaseMs: 30_000,
    maxDeliveries: options.maxDeliveries ?? 5,
    maxProcessingMs: 60_000,
  };
  const queue = await createQueueClient(config);
  clients.push(queue);
  const resultsDir = path.join(dir, 'results');
  const env = {
    QUEUE_KIND: 'embedded',
    QUEUE_NAME: config.queue,
    EMBEDDED_QUEUE_DIR: config.dir,
    QUEUE_MAX_DELIVERIES: String(config.maxDeliveries),
    RESULTS_DIR: resultsDir,
  };
  return { queue, env, resultsDir, sink: await createResultSink({ kind: 'local', dir: resultsDir }) };
}

describe('worker-job on the embedded queue', () => {
  // The heaviest test of the project: 500 Node start-ups on a 2-core machine.
  it('500 messages, one process per message (8 at a time): 500 results, every process exits 0', { timeout: 900_000 }, async () => {
    const { queue, env, sink } = await setup();
    const { messages, outgoing } = workMessages({ loadId: 'load-500', count: 500, work: { durationMs: 5, mode: 'wait' } });
    await queue.send(outgoing);
    const runs = await runPool(500, 8, async (i) => runJobToEnd({ ...env, WORKER_INSTANCE: `job-${i}`, LOG_LEVEL: 'info' }));
    const failed = runs.filter((r) => r.code !== 0);
    expect(failed.map((r) => `${r.code} ${r.stderr}`)).toEqual([]);
    expect(runs.every((r) => r.reason === 'processed 1 message(s): 1 completed')).toBe(true);
    const keys = await sink.list('load-500');
    expect(new Set(keys.map((k) => k.messageId))).toEqual(new Set(messages.map((m) => m.id)));
    const instances = new Set<string>();
    for (const m of messages.slice(0, 50)) instances.add((await sink.read({ loadId: 'load-500', messageId: m.id }))!.worker.instance);
    expect(instances.size).toBe(50);
    expect(await queue.depth()).toEqual({ ready: 0, inFlight: 0, deadLettered: 0 });
  });

  it('exits 0 on an empty queue after the receive wait', async () => {
    const { env } = await setup();
    const started = Date.now();
    const run = await runJobToEnd({ ...env, RECEIVE_WAIT_MS: '300' });
    expect(run.code).toBe(0);
    expect(run.reason).toBe('queue empty after 300 ms');
    expect(run.stderr).toBe('');
    console.info(`empty queue: process exited after ${Date.now() - started} ms (wait 300 ms)`);
  });

  it('on SIGTERM while waiting for a message: exits 0 at once instead of finishing the wait', async () => {
    const { env } = await setup();
    const job = runJob({ ...env, RECEIVE_WAIT_MS: '60000' });
    await job.waitForLog((l) => l.msg === 'receiving');
    job.kill('SIGTERM');
    const { code } = await job.exited;
    expect(code).toBe(0);
    const final = job.logs.find((l) => l.msg === 'worker-job finished');
    expect(final?.reason).toBe('stopped by a signal before a message arrived');
  });

  it('processes up to RECEIVE_COUNT messages in one run', async () => {
    const { queue, env, sink } = await setup();
    const { outgoing } = workMessages({ loadId: 'load-batch', count: 7 });
    await queue.send(outgoing);
    const run = await runJobToEnd({ ...env, RECEIVE_COUNT: '5' });
    expect(run.code).toBe(0);
    expect(run.reason).toBe('processed 5 message(s): 5 completed');
    expect((await sink.list('load-batch')).length).toBe(5);
    expect((await queue.depth()).ready).toBe(2);
  });

  it('on SIGTERM during the work: abandons the message and exits 0 promptly; the next job completes it', async () => {
    const { queue, env, sink } = await setup();
    const { messages, outgoing } = workMessages({ loadId: 'load-term', count: 1, work: { durationMs: 60_000, mode: 'cpu' } });
    await queue.send(outgoing);
    const job = runJob(env);
    await job.waitForLog((l) => l.msg === 'processing');
    expect((await queue.depth()).inFlight).toBe(1);
    const signalled = Date.now();
    job.kill('SIGTERM');
    const { code } = await job.exited;
    console.info(`SIGTERM during work: exited ${Date.now() - signalled} ms after the signal`);
    expect(code).toBe(0);
    expect(job.logs.some((l) => l.msg === 'shutting down: abandoning the delivery' && l.messageId === messages[0]!.id)).toBe(true);
    expect(await queue.depth()).toMatchObject({ ready: 1, inFlight: 0 });
    expect(await sink.list('load-term')).toEqual([]);
    const [again] = await queue.receive(1, 1000);
    expect([again?.id, again?.deliveryCount]).toEqual([messages[0]!.id, 2]);
    await again!.complete();
  });

  it('poison message: abandoned on each run, dead-lettered after QUEUE_MAX_DELIVERIES with the reason', async () => {
    const { queue, env, sink } = await setup({ maxDeliveries: 3 });
    const { messages, outgoing } = workMessages({ loadId: 'load-poison', count: 1, work: { failureProbability: 1 } });
    await queue.send(outgoing);
    const reasons: unknown[] = [];
    for (let i = 0; i < 3; i++) {
      const run = await runJobToEnd({ ...env, RECEIVE_WAIT_MS: '2000' });
      expect(run.code).toBe(0);
      reasons.push(run.reason);
    }
    expect(reasons).toEqual([
      'processed 1 message(s): 1 failed',
      'processed 1 message(s): 1 failed',
      'processed 1 message(s): 1 dead-lettered',
    ]);
    const dead = await queue.peekDeadLetters(5);
    expect(dead.map((d) => [d.id, d.reason])).toEqual([[messages[0]!.id, 'MaxDeliveryCountExceeded']]);
    expect(await sink.list('load-poison')).toEqual([]);
    expect((await runJobToEnd({ ...env, RECEIVE_WAIT_MS: '200' })).reason).toMatch(/queue empty/);
  });

  it('invalid message: dead-lettered at once with the reason', async () => {
    const { queue, env } = await setup();
    await queue.send([
      { id: '6d3c1d2e-1111-4b6b-9d7c-000000000001', body: Buffer.from(JSON.stringify({ version: 1, id: 'not-a-uuid', hello: 'world' })) },
    ]);
    const run = await runJobToEnd(env);
    expect(run.code).toBe(0);
    expect(run.reason).toBe('processed 1 message(s): 1 dead-lettered');
    const [dead] = await queue.peekDeadLetters(1);
    expect(dead?.reason).toBe('InvalidMessage');
    expect(dead?.description).toMatch(/hello: is not a known field/);
    expect(dead?.description).toMatch(/loadId: is required/);
  });

  it('exit 2 on a configuration error, with one line naming the variable', async () => {
    const run = await runJobToEnd({ RECEIVE_COUNT: 'many' });
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/RECEIVE_COUNT/);
  });

  it('exit 3 when the broker is unreachable, with a one-line reason', async () => {
    const run = await runJobToEnd({
      QUEUE_KIND: 'rabbitmq',
      RABBITMQ_URL: 'amqp://surge:secret-pw@127.0.0.1:1/',
      RESULTS_DIR: path.join(tempDir(), 'r'),
    });
    expect(run.code).toBe(3);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/^worker-job: exit 3: queue unavailable/);
    expect(run.stderr + JSON.stringify(run.job.logs)).not.toContain('secret-pw');
  });

  it('exit 4 when the result store cannot be used; the message stays in the queue', async () => {
    const { queue, env, resultsDir } = await setup();
    // The load's folder is taken by a file: the result cannot be written.
    writeFileSync(path.join(resultsDir, 'load-store'), 'x');
    await queue.send(workMessages({ loadId: 'load-store', count: 1 }).outgoing);
    const run = await runJobToEnd(env);
    expect(run.code).toBe(4);
    expect(run.stderr).toMatch(/^worker-job: exit 4: result store failed/);
    expect(run.job.logs.some((l) => l.level === 'error' && l.exitCode === 4)).toBe(true);
    expect(await queue.depth()).toMatchObject({ ready: 1, inFlight: 0 });
  });
});
