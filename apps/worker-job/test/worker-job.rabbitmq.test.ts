/**
 * worker-job as real processes against a real RabbitMQ (the global setup's private node) and, for
 * Blob results, a private Azurite.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createQueueClient, type RabbitMqQueueConfig } from '@surge/queue-adapters';
import { createResultSink, resultName, type ResultSink } from '@surge/results';
import { providedRabbitMq, runPool, startAzurite, workMessages, type AzuriteInstance, type ProvidedRabbitMq } from '@surge/testing';
import path from 'node:path';
import { removeTempDirs, runJobToEnd, tempDir, uniqueQueue } from './support.ts';

let broker: ProvidedRabbitMq;
let azurite: AzuriteInstance;
const clients: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  broker = await providedRabbitMq();
  azurite = await startAzurite();
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await azurite?.stop();
  removeTempDirs();
});

async function setup(options: { maxDeliveries?: number } = {}) {
  const config: RabbitMqQueueConfig = {
    kind: 'rabbitmq',
    queue: uniqueQueue('job'),
    url: broker.url,
    managementUrl: broker.managementUrl,
    prefetch: undefined,
    maxDeliveries: options.maxDeliveries ?? 5,
    maxProcessingMs: 60_000,
  };
  const queue = await createQueueClient(config);
  clients.push(queue);
  const resultsDir = path.join(tempDir(), 'results');
  const env: Record<string, string> = {
    QUEUE_KIND: 'rabbitmq',
    QUEUE_NAME: config.queue,
    RABBITMQ_URL: broker.url,
    QUEUE_MAX_DELIVERIES: String(config.maxDeliveries),
    RESULTS_DIR: resultsDir,
    RECEIVE_WAIT_MS: '3000',
  };
  if (broker.managementUrl) env.RABBITMQ_MANAGEMENT_URL = broker.managementUrl;
  const sink: ResultSink = await createResultSink({ kind: 'local', dir: resultsDir });
  return { queue, env, sink };
}

describe('worker-job on RabbitMQ', () => {
  it('40 messages, one process per message (8 at a time): 40 results, every process exits 0', { timeout: 600_000 }, async () => {
    const { queue, env, sink } = await setup();
    const { messages, outgoing } = workMessages({ loadId: 'load-rmq', count: 40, work: { durationMs: 5, mode: 'cpu' } });
    await queue.send(outgoing);
    const runs = await runPool(40, 8, (i) => runJobToEnd({ ...env, WORKER_INSTANCE: `job-${i}`, LOG_LEVEL: 'info' }));
    expect(runs.filter((r) => r.code !== 0).map((r) => `${r.code} ${r.stderr}`)).toEqual([]);
    // Each message is taken, written and completed exactly once: a completed message that comes
    // back (an ack lost on close) shows up here as "completed (duplicate result)".
    expect(runs.filter((r) => r.reason !== 'processed 1 message(s): 1 completed').map((r) => r.reason)).toEqual([]);
    // Nothing came back to the queue. (Asked with a real receive: the management statistics lag.)
    expect((await queue.receive(10, 2_000)).map((d) => d.id)).toEqual([]);
    expect(new Set((await sink.list('load-rmq')).map((k) => k.messageId))).toEqual(new Set(messages.map((m) => m.id)));
    expect((await sink.read({ loadId: 'load-rmq', messageId: messages[0]!.id }))?.enqueuedAt).toMatch(/^\d{4}-/);
  });

  it('exits 0 on an empty queue', async () => {
    const { env } = await setup();
    const run = await runJobToEnd({ ...env, RECEIVE_WAIT_MS: '500' });
    expect([run.code, run.reason]).toEqual([0, 'queue empty after 500 ms']);
  });

  it('poison message ends in the dead-letter queue after QUEUE_MAX_DELIVERIES, with the reason', async () => {
    const { queue, env, sink } = await setup({ maxDeliveries: 2 });
    const { messages, outgoing } = workMessages({ loadId: 'load-rmq-poison', count: 1, work: { failureProbability: 1 } });
    await queue.send(outgoing);
    const reasons = [];
    for (let i = 0; i < 2; i++) reasons.push((await runJobToEnd(env)).reason);
    expect(reasons).toEqual(['processed 1 message(s): 1 failed', 'processed 1 message(s): 1 dead-lettered']);
    const dead = await queue.peekDeadLetters(5);
    expect(dead.map((d) => [d.id, d.reason])).toEqual([[messages[0]!.id, 'MaxDeliveryCountExceeded']]);
    expect(await sink.list('load-rmq-poison')).toEqual([]);
  });

  it('invalid message is dead-lettered at once with the reason', async () => {
    const { queue, env } = await setup();
    await queue.send([{ id: '2a4b6c8d-3333-4e4e-8f8f-000000000003', body: Buffer.from('{"version":2}') }]);
    const run = await runJobToEnd(env);
    expect([run.code, run.reason]).toEqual([0, 'processed 1 message(s): 1 dead-lettered']);
    const [dead] = await queue.peekDeadLetters(1);
    expect(dead?.reason).toBe('InvalidMessage');
    expect(dead?.description).toMatch(/version: must be one of 1|version/);
  });

  it('writes Blob results to Azurite as <loadId>/<messageId>.json with the result as content', async () => {
    const { queue, env } = await setup();
    const { messages, outgoing } = workMessages({ loadId: 'load-blob-job', count: 2 });
    await queue.send(outgoing);
    const run = await runJobToEnd({
      ...env,
      RECEIVE_COUNT: '2',
      RESULTS_KIND: 'blob',
      AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString,
      RESULTS_CONTAINER: 'job-results',
      WORKER_INSTANCE: 'job-blob',
    });
    expect([run.code, run.reason]).toEqual([0, 'processed 2 message(s): 2 completed']);
    expect(JSON.stringify(run.job.logs)).not.toContain('AccountKey');
    // Read back through a sink of our own (the raw-SDK view of names and content is checked in libs/testing's Azurite test).
    const blobs = await createResultSink({
      kind: 'blob',
      connectionString: azurite.connectionString,
      accountUrl: undefined,
      container: 'job-results',
    });
    clients.push(blobs);
    expect((await blobs.list('load-blob-job')).map((k) => resultName(k)).sort()).toEqual(
      messages.map((m) => `load-blob-job/${m.id}.json`).sort(),
    );
    const stored = await blobs.read({ loadId: 'load-blob-job', messageId: messages[1]!.id });
    expect(stored).toMatchObject({
      version: 1,
      messageId: messages[1]!.id,
      loadId: 'load-blob-job',
      seq: 1,
      worker: { kind: 'job', instance: 'job-blob' },
      deliveryAttempt: 1,
      outcome: 'succeeded',
    });
  });
});
