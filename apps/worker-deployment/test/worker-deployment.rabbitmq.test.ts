/**
 * worker-deployment as real processes on a real RabbitMQ with Blob results in a private Azurite:
 * three replicas, 2,000 messages, then SIGKILL chaos (the broker redelivers a dead consumer's
 * unacked messages as soon as its connection drops).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createQueueClient, type QueueClient, type RabbitMqQueueConfig } from '@surge/queue-adapters';
import { createResultSink, type ResultSink } from '@surge/results';
import { providedRabbitMq, startAzurite, workMessages, type AzuriteInstance, type ProvidedRabbitMq } from '@surge/testing';
import { accountWrites, checkResults, metricSum, startDeployment, uniqueQueue, waitFor, type Deployment } from './support.ts';

const COUNT = 2000;
let broker: ProvidedRabbitMq;
let azurite: AzuriteInstance;
const clients: { close(): Promise<void> }[] = [];
const started: Deployment[] = [];

beforeAll(async () => {
  broker = await providedRabbitMq();
  azurite = await startAzurite();
});
afterAll(async () => {
  for (const d of started) d.proc.kill('SIGKILL');
  await Promise.all(started.map((d) => d.proc.exited));
  await Promise.all(clients.map((c) => c.close()));
  await azurite?.stop();
});

async function setup(container: string) {
  const config: RabbitMqQueueConfig = {
    kind: 'rabbitmq',
    queue: uniqueQueue('dep'),
    url: broker.url,
    managementUrl: broker.managementUrl,
    prefetch: undefined,
    maxDeliveries: 50,
    maxProcessingMs: 60_000,
  };
  const queue: QueueClient = await createQueueClient(config);
  const sink: ResultSink = await createResultSink({
    kind: 'blob',
    connectionString: azurite.connectionString,
    accountUrl: undefined,
    container,
  });
  clients.push(queue, sink);
  const env: Record<string, string> = {
    QUEUE_KIND: 'rabbitmq',
    QUEUE_NAME: config.queue,
    RABBITMQ_URL: broker.url,
    QUEUE_MAX_DELIVERIES: String(config.maxDeliveries),
    RESULTS_KIND: 'blob',
    AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString,
    RESULTS_CONTAINER: container,
    CONCURRENCY: '8',
    DRAIN_TIMEOUT_MS: '2000',
  };
  if (broker.managementUrl) env.RABBITMQ_MANAGEMENT_URL = broker.managementUrl;
  let n = 0;
  const start = () => {
    const d = startDeployment({ ...env, WORKER_INSTANCE: `w-${++n}` });
    started.push(d);
    return d;
  };
  return { queue, sink, start };
}

describe('worker-deployment processes on RabbitMQ with Blob results (Azurite)', () => {
  it('2,000 messages through 3 processes: exactly 2,000 blobs named <loadId>/<messageId>.json', { timeout: 600_000 }, async () => {
    const { queue, sink, start } = await setup('deployment-results');
    const { messages, outgoing } = workMessages({ loadId: 'load-rmq', count: COUNT, work: { durationMs: 2, mode: 'wait' } });
    await queue.send(outgoing);
    const replicas = [start(), start(), start()];
    await waitFor(async () => (await sink.list('load-rmq')).length >= COUNT, `${COUNT} blobs`, 600_000, 500);
    const texts = await Promise.all(replicas.map((d) => d.metrics()));
    for (const d of replicas) d.proc.kill('SIGTERM');
    expect(await Promise.all(replicas.map((d) => d.proc.exited))).toEqual(replicas.map(() => ({ code: 0, signal: null })));
    const accounting = accountWrites(replicas.map((d) => d.proc));
    const checked = await checkResults(
      sink,
      'load-rmq',
      messages.map((m) => m.id),
      accounting,
    );
    expect(checked.verifiedWriters).toBe(COUNT);
    expect(texts.reduce((sum, t) => sum + metricSum(t, 'surge_worker_messages_processed_total', 'result="written"'), 0)).toBe(COUNT);
    // Names are <loadId>/<messageId>.json (list parses exactly that form) and the content is the result.
    const sample = messages[1234]!;
    expect(await sink.read({ loadId: 'load-rmq', messageId: sample.id })).toMatchObject({
      messageId: sample.id,
      loadId: 'load-rmq',
      seq: 1234,
      worker: { kind: 'deployment' },
      outcome: 'succeeded',
    });
    expect(replicas.every((d) => !JSON.stringify(d.proc.logs).includes('AccountKey='))).toBe(true);
  });

  // 500 rather than 2,000 messages: the 2,000-message chaos runs are on the embedded backend; this
  // one adds the broker's own redelivery (connection drop) at a quarter of the cost.
  it(
    'SIGKILL to a random replica every 300 ms, a new one started: all 500 results, none lost or overwritten',
    { timeout: 900_000 },
    async () => {
      const { sink, queue, start } = await setup('deployment-chaos');
      const CHAOS_COUNT = 500;
      const { messages, outgoing } = workMessages({ loadId: 'load-rmq-kill', count: CHAOS_COUNT, work: { durationMs: 20, mode: 'wait' } });
      await queue.send(outgoing);
      const replicas = [start(), start(), start()];
      const everyone = [...replicas];
      const victims: typeof replicas = [];
      const timer = setInterval(() => {
        const candidates = replicas
          .map((d, i) => [d, i] as const)
          .filter(
            ([d]) => d.proc.child.exitCode === null && d.proc.child.signalCode === null && d.proc.logs.some((l) => l.msg === 'consuming'),
          );
        if (candidates.length === 0) return;
        const [victim, index] = candidates[Math.floor(Math.random() * candidates.length)]!;
        victim.proc.kill('SIGKILL');
        victims.push(victim);
        replicas[index] = start();
        everyone.push(replicas[index]);
      }, 300);
      try {
        await waitFor(async () => (await sink.list('load-rmq-kill')).length >= CHAOS_COUNT, `${CHAOS_COUNT} blobs`, 800_000, 500);
      } finally {
        clearInterval(timer);
      }
      await Promise.all(replicas.map((d) => d.proc.waitForLog((l) => l.msg === 'consuming').catch(() => undefined)));
      for (const d of replicas) d.proc.kill('SIGTERM');
      const finalExits = await Promise.all(replicas.map((d) => d.proc.exited));
      expect(finalExits.every((e) => e.code === 0)).toBe(true);
      await Promise.all(everyone.map((d) => d.proc.exited));
      const accounting = accountWrites(everyone.map((d) => d.proc));
      const checked = await checkResults(
        sink,
        'load-rmq-kill',
        messages.map((m) => m.id),
        accounting,
      );
      console.info(
        `RabbitMQ SIGKILL chaos: ${everyone.length} processes, ${victims.length} SIGKILLs, ${accounting.duplicates} duplicate writes detected and kept out, ${checked.verifiedWriters} writers verified`,
      );
      // The kills landed on running consumers: each victim died of the signal, none had exited on its own first.
      expect(victims.length).toBeGreaterThan(0);
      expect(await Promise.all(victims.map((d) => d.proc.exited))).toEqual(victims.map(() => ({ code: null, signal: 'SIGKILL' })));
    },
  );
});
