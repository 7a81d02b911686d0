/**
 * The work deadline (WORK_DEADLINE_MS, counted from the process's own start) on the real process and
 * the embedded queue: work longer than the deadline is stopped, the message is abandoned and comes
 * back with delivery count + 1, and the run exits 6 (the code the base's podFailurePolicy fails the
 * Job on). Bad values stop the process with exit 2 and one line.
 */
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createQueueClient, type EmbeddedQueueConfig, type QueueClient } from '@surge/queue-adapters';
import { createResultSink } from '@surge/results';
import { workMessages } from '@surge/testing';
import { removeTempDirs, runJobToEnd, tempDir, uniqueQueue } from './support.ts';

const clients: QueueClient[] = [];
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  removeTempDirs();
});

async function setup() {
  const dir = tempDir();
  const config: EmbeddedQueueConfig = {
    kind: 'embedded',
    queue: uniqueQueue('deadline'),
    dir: path.join(dir, 'queue'),
    leaseMs: 30_000,
    maxDeliveries: 5,
    maxProcessingMs: 60_000,
  };
  const queue = await createQueueClient(config);
  clients.push(queue);
  const resultsDir = path.join(dir, 'results');
  const env = {
    QUEUE_KIND: 'embedded',
    QUEUE_NAME: config.queue,
    EMBEDDED_QUEUE_DIR: config.dir,
    QUEUE_MAX_DELIVERIES: '5',
    QUEUE_MAX_PROCESSING_MS: '60000',
    RESULTS_DIR: resultsDir,
  };
  return { queue, env, sink: await createResultSink({ kind: 'local', dir: resultsDir }) };
}

describe('worker-job work deadline (WORK_DEADLINE_MS)', () => {
  it('work longer than the deadline: stopped, abandoned (delivery count + 1), no result, exit 6 with one line', async () => {
    const { queue, env, sink } = await setup();
    const { messages, outgoing } = workMessages({ loadId: 'load-deadline', count: 1, work: { durationMs: 120_000, mode: 'cpu' } });
    await queue.send(outgoing);
    const run = await runJobToEnd({ ...env, WORK_DEADLINE_MS: '3000' });
    expect(run.code).toBe(6);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(
      /^worker-job: exit 6: work deadline of 3000 ms from process start passed \(WORK_DEADLINE_MS\): 1 message\(s\) abandoned for redelivery/,
    );
    expect(
      run.job.logs.some(
        (l) => l.msg === 'work deadline passed: stopping the work; the delivery is abandoned for redelivery' && l.workDeadlineMs === 3000,
      ),
    ).toBe(true);
    expect(run.job.logs.find((l) => l.msg === 'worker-job failed')).toMatchObject({ exitCode: 6 });
    expect(await sink.list('load-deadline')).toEqual([]);
    expect(await queue.depth()).toMatchObject({ ready: 1, inFlight: 0 });
    const [again] = await queue.receive(1, 1000);
    expect([again?.id, again?.deliveryCount]).toEqual([messages[0]!.id, 2]);
    await again!.complete();
  });

  it('with RECEIVE_COUNT > 1: what finished before the deadline is kept, the rest goes back', async () => {
    const { queue, env, sink } = await setup();
    const quick = workMessages({ loadId: 'load-deadline-batch', count: 1, work: { durationMs: 0, mode: 'wait' } });
    const slow = workMessages({ loadId: 'load-deadline-batch', count: 2, startSeq: 1, work: { durationMs: 120_000, mode: 'wait' } });
    await queue.send(quick.outgoing);
    await queue.send(slow.outgoing);
    // 8 s: start-up on a busy machine stays well inside it, so the first (zero-work) message completes.
    const run = await runJobToEnd({ ...env, RECEIVE_COUNT: '3', WORK_DEADLINE_MS: '8000' });
    expect(run.code).toBe(6);
    expect(run.reason).toMatch(/: 2 message\(s\) abandoned for redelivery; processed 2 message\(s\): 1 completed, 1 aborted$/);
    expect((await sink.list('load-deadline-batch')).map((k) => k.messageId)).toEqual([quick.messages[0]!.id]);
    const back = await queue.receive(5, 1000);
    expect(back.map((d) => [d.id, d.deliveryCount]).sort()).toEqual(slow.messages.map((m) => [m.id, 2]).sort());
    await Promise.all(back.map((d) => d.complete()));
  });

  it('the deadline also ends a receive wait that outlasts it (exit 6, nothing taken)', async () => {
    const { queue, env } = await setup();
    const run = await runJobToEnd({ ...env, RECEIVE_WAIT_MS: '60000', WORK_DEADLINE_MS: '2000' });
    expect(run.code).toBe(6);
    expect(run.stderr).toMatch(
      /^worker-job: exit 6: work deadline of 2000 ms from process start passed \(WORK_DEADLINE_MS\) before a message arrived/,
    );
    expect(await queue.depth()).toMatchObject({ ready: 0, inFlight: 0 });
  });

  it('a deadline that is not reached changes nothing: exit 0', async () => {
    const { queue, env, sink } = await setup();
    await queue.send(workMessages({ loadId: 'load-deadline-ok', count: 1, work: { durationMs: 50, mode: 'wait' } }).outgoing);
    const run = await runJobToEnd({ ...env, WORK_DEADLINE_MS: '60000' });
    expect([run.code, run.reason]).toEqual([0, 'processed 1 message(s): 1 completed']);
    expect(await sink.list('load-deadline-ok')).toHaveLength(1);
  });

  it('exit 2 with one line naming WORK_DEADLINE_MS: not a number, or past the lock renewal', async () => {
    const notANumber = await runJobToEnd({ WORK_DEADLINE_MS: 'soon' });
    expect(notANumber.code).toBe(2);
    expect(notANumber.stderr).toBe(
      'configuration error: WORK_DEADLINE_MS: expected an integer from 1000 to 960000 (at most QUEUE_MAX_PROCESSING_MS, the lock renewal), got "soon"\n',
    );
    const tooLong = await runJobToEnd({ QUEUE_MAX_PROCESSING_MS: '60000', WORK_DEADLINE_MS: '90000' });
    expect(tooLong.code).toBe(2);
    expect(tooLong.stderr).toBe(
      'configuration error: WORK_DEADLINE_MS: expected an integer from 1000 to 60000 (at most QUEUE_MAX_PROCESSING_MS, the lock renewal), got 90000\n',
    );
  });
});
