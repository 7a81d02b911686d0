/**
 * The Service Bus backend against the unmodified @azure/service-bus SDK on the wire:
 * - always: the shared contract suite and Service Bus specifics against Surge's protocol peer;
 * - when a Docker engine answers: the contract suite against the official emulator (testcontainers);
 * - when SERVICEBUS_CONNECTION_STRING is set for the test run: the contract suite against that namespace.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceBusAdministrationClient, ServiceBusClient } from '@azure/service-bus';
import { runQueueContractSuite } from '@surge/queue-adapters/testing';
import { startServiceBusPeer, startServiceBusPeerProcess, waitUntil, type ServiceBusPeer } from '@surge/testing';
import type { ServiceBusQueueConfig } from '../config.ts';
import { isQueueError, type QueueError } from '../errors.ts';
import { ServiceBusQueueClient } from './servicebus-client.ts';

const LOCK_MS = 2_000;

function config(connectionString: string, queue: string, overrides: Partial<ServiceBusQueueConfig> = {}): ServiceBusQueueConfig {
  return { kind: 'servicebus', queue, maxDeliveries: 5, maxProcessingMs: 60_000, connectionString, namespace: undefined, ...overrides };
}

async function failure(promise: Promise<unknown>): Promise<QueueError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isQueueError(error)) throw new Error(`expected a QueueError, got ${String(error)}`);
  return error as QueueError;
}

// The peer runs in a child process for the contract suite: the burst test measures this process's memory.
const peerProcess = await startServiceBusPeerProcess({ lockDurationMs: LOCK_MS, maxDeliveryCount: 10 });
afterAll(() => peerProcess.close());

runQueueContractSuite({
  name: 'servicebus (protocol peer)',
  config: (queue, { maxDeliveries }) => config(peerProcess.connectionString, queue, { maxDeliveries }),
  redeliveryAfterDeathMs: LOCK_MS + 8_000,
  forbiddenModules: ['amqplib', '@azure/identity'],
  requiredModules: ['@azure/service-bus'],
});

describe('servicebus adapter specifics (protocol peer)', () => {
  let peer: ServiceBusPeer;
  const open: ServiceBusQueueClient[] = [];
  beforeAll(async () => {
    peer = await startServiceBusPeer({
      lockDurationMs: LOCK_MS,
      maxDeliveryCount: 10,
      queues: { forbidden: {} },
      authorize: (audience) => !audience.endsWith('/forbidden'),
    });
  });
  afterAll(async () => {
    await Promise.allSettled(open.map((c) => c.close()));
    await peer.close();
  });
  async function client(
    queue = `sb-${randomUUID().slice(0, 8)}`,
    overrides: Partial<ServiceBusQueueConfig> = {},
  ): Promise<ServiceBusQueueClient> {
    const c = await ServiceBusQueueClient.connect(config(peer.connectionString, queue, overrides), { closeTimeoutMs: 2_000 });
    open.push(c);
    return c;
  }

  it('sends with the contract id as message id and properties as application properties, split at the size limit', async () => {
    const c = await client();
    const big = Buffer.alloc(100_000, 120);
    await c.send(
      Array.from({ length: 5 }, (_, i) => ({
        id: `id-${i}`,
        body: big,
        properties: { traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`, seq: String(i) },
      })),
    );
    // 5 × 100 kB cannot go in one 256 kB batch: the adapter split it.
    expect(peer.operationCounts()['send:batch']).toBeGreaterThanOrEqual(3);
    const deliveries = await c.receive(5, 5_000);
    const more = deliveries.length < 5 ? await c.receive(5 - deliveries.length, 5_000) : [];
    const all = [...deliveries, ...more];
    expect(all.map((d) => d.id).sort()).toEqual(['id-0', 'id-1', 'id-2', 'id-3', 'id-4']);
    expect(all[0]!.properties['traceparent']).toMatch(/^00-a{32}-b{16}-01$/);
    expect(all[0]!.body.equals(big)).toBe(true);
    for (const d of all) await d.complete();
  });

  it('marks every message content type application/json, as a receiver outside Surge (the plain SDK) sees it', async () => {
    const queue = `sb-${randomUUID().slice(0, 8)}`;
    const c = await client(queue);
    await c.send([{ id: 'ct-1', body: Buffer.from('{"n":1}') }]);
    const plain = new ServiceBusClient(peer.connectionString);
    try {
      const receiver = plain.createReceiver(queue, { receiveMode: 'receiveAndDelete' });
      const [message] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
      expect(message?.messageId).toBe('ct-1');
      expect(message?.contentType).toBe('application/json');
      await receiver.close();
    } finally {
      await plain.close();
    }
  });

  it('a message larger than the broker allows is MESSAGE_TOO_LARGE, not retryable', async () => {
    const c = await client();
    const error = await failure(c.send([{ id: 'huge', body: Buffer.alloc(300_000) }]));
    expect(error).toMatchObject({ code: 'QUEUE_MESSAGE_TOO_LARGE', retryable: false });
  });

  it('renews the lock for up to maxProcessingMs: a message held past its lock duration is not handed to anyone else', async () => {
    const queue = `sb-${randomUUID().slice(0, 8)}`;
    const holder = await client(queue);
    const other = await client(queue);
    await holder.send([{ id: 'long-work', body: Buffer.from('{}') }]);
    const [held] = await holder.receive(1, 5_000);
    const heldAt = Date.now();
    const renewals = (): number => peer.operationCounts()['com.microsoft:renew-lock'] ?? 0;
    const renewedBefore = renewals();
    // Held past its first lock expiry, renewed at least twice, and still locked to the holder.
    await waitUntil(() => Date.now() - heldAt > LOCK_MS && renewals() >= renewedBefore + 2, 'two lock renewals past the lock duration');
    expect(peer.queue(queue).lockedCount).toBe(1);
    expect(await other.receive(1, 500)).toEqual([]);
    await held!.complete();
    expect(peer.operationCounts()['com.microsoft:renew-lock']).toBeGreaterThan(0);
    expect(peer.queue(queue).activeCount).toBe(0);
  }, 20_000);

  it('past maxProcessingMs the lock is no longer renewed: the message comes back and the late settle is DELIVERY_LOST', async () => {
    const queue = `sb-${randomUUID().slice(0, 8)}`;
    const c = await client(queue, { maxProcessingMs: 1_000 });
    await c.send([{ id: 'too-slow', body: Buffer.from('{}') }]);
    const [first] = await c.receive(1, 5_000);
    // No renewal past maxProcessingMs: the peer's lock expires and the message is available again.
    await waitUntil(() => peer.queue(queue).lockedCount === 0 && peer.queue(queue).availableCount === 1, 'the unrenewed lock to expire');
    expect(await failure(first!.complete())).toMatchObject({ code: 'QUEUE_DELIVERY_LOST', retryable: false });
    const [again] = await c.receive(1, 5_000);
    expect(again).toMatchObject({ id: 'too-slow', deliveryCount: 2 });
    await again!.complete();
  });

  it('settling twice is ALREADY_SETTLED', async () => {
    const c = await client();
    await c.send([{ id: 'once', body: Buffer.from('{}') }]);
    const [d] = await c.receive(1, 5_000);
    await d!.complete();
    expect(await failure(d!.complete())).toMatchObject({ code: 'QUEUE_ALREADY_SETTLED' });
  });

  it('depth: ready + inFlight is the active count KEDA reads; inFlight is what this client holds', async () => {
    const queue = `sb-${randomUUID().slice(0, 8)}`;
    const c = await client(queue);
    const observer = await client(queue);
    await c.send([1, 2, 3].map((i) => ({ id: `d${i}`, body: Buffer.from('{}') })));
    const [held] = await c.receive(1, 5_000);
    expect(await c.depth()).toEqual({ ready: 2, inFlight: 1, deadLettered: 0 });
    // Another process cannot see our locks: for it they are part of `ready`, as for KEDA's active count.
    expect(await observer.depth()).toEqual({ ready: 3, inFlight: 0, deadLettered: 0 });
    await held!.deadLetter('InvalidMessage');
    expect(await c.depth()).toEqual({ ready: 2, inFlight: 0, deadLettered: 1 });
  });

  it('consume on a queue that does not exist: NOT_FOUND reaches onError (or rejects consume) and the consumer is not attached', async () => {
    const strict = await startServiceBusPeer({ autoCreateQueues: false });
    const c = await ServiceBusQueueClient.connect(config(strict.connectionString, 'missing'), { closeTimeoutMs: 2_000 });
    try {
      const errors: QueueError[] = [];
      // Service Bus (and the peer) answer the attach, then detach it with amqp:not-found.
      const consumer = await c
        .consume(async () => undefined, { concurrency: 2, onError: (e) => errors.push(e) })
        .catch((e: QueueError) => {
          errors.push(e);
          return undefined;
        });
      for (let i = 0; i < 100 && errors.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 100));
      expect(errors[0]?.code).toBe('QUEUE_NOT_FOUND');
      expect(consumer?.attached ?? false).toBe(false);
      await consumer?.stop();
    } finally {
      await c.close();
      await strict.close();
    }
  }, 30_000);

  it('an unauthorised token is AUTH_FAILED; the error names the queue and never the key', async () => {
    const c = await client('forbidden');
    const error = await failure(c.send([{ id: 'x', body: Buffer.from('{}') }]));
    expect(error.code).toBe('QUEUE_AUTH_FAILED');
    expect(error.message).toContain('forbidden');
    expect(error.message).not.toContain('cGVlcg==');
    expect(JSON.stringify(error)).not.toContain('cGVlcg==');
  }, 30_000);

  it('a broker that does not answer: ping fails with a retryable QueueError', async () => {
    const dead = await ServiceBusQueueClient.connect(
      config('Endpoint=sb://127.0.0.1:1;SharedAccessKeyName=x;SharedAccessKey=y;UseDevelopmentEmulator=true', 'q'),
      { requestTimeoutMs: 3_000, closeTimeoutMs: 1_000 },
    );
    const error = await failure(dead.ping());
    expect(error.retryable).toBe(true);
    expect(['QUEUE_UNAVAILABLE', 'QUEUE_TIMEOUT']).toContain(error.code);
    await dead.close();
  });

  it('close() is bounded when the broker hangs: a one-shot worker gets past it and exits', async () => {
    const queue = `sb-${randomUUID().slice(0, 8)}`;
    const producer = await client(queue);
    await producer.send([{ id: 'hang', body: Buffer.from('{}') }]);
    const child = spawn(process.execPath, [fileURLToPath(new URL('./fixtures/hung-close.child.ts', import.meta.url))], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stdin.write(`${JSON.stringify(config(peer.connectionString, queue))}\n`);
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const exit = new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve(null);
      }, 30_000);
      child.once('exit', (code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
    while (!out.includes('held')) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(out).toContain('held hang');
    peer.freeze();
    child.stdin.write('close\n');
    expect(await exit).toBe(0);
    expect(out).toContain('closed');
  }, 40_000);
});

/** True when a Docker engine answers on its socket (testcontainers needs one). */
async function dockerAnswers(): Promise<string | undefined> {
  const socketPath = process.env['DOCKER_HOST']?.replace(/^unix:\/\//, '') ?? '/var/run/docker.sock';
  if (process.env['DOCKER_HOST'] && !process.env['DOCKER_HOST'].startsWith('unix://')) return undefined;
  if (!existsSync(socketPath)) return `no Docker socket at ${socketPath}`;
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/_ping', timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200 ? undefined : `Docker answered ${res.statusCode} on /_ping`);
    });
    req.once('timeout', () => req.destroy(new Error('timeout')));
    req.once('error', (e) => resolve(`Docker did not answer on ${socketPath}: ${e.message}`));
    req.end();
  });
}

const dockerProblem = await dockerAnswers();
if (dockerProblem) {
  console.warn(`[servicebus] emulator variant not run: ${dockerProblem}`);
  describe.skip(`queue contract: servicebus (official emulator) — not run: ${dockerProblem}`, () => {
    it('needs a Docker engine', () => undefined);
  });
} else {
  // The emulator only knows the queues declared in its config, so the suite draws from a pool.
  const pool = Array.from({ length: 16 }, (_, i) => `contract-${i}`);
  const { AzureServiceBusContainer } = await import('@testcontainers/azureservicebus');
  const emulatorConfig = {
    UserConfig: {
      Namespaces: [
        {
          Name: 'sbemulatorns',
          Queues: pool.map((Name) => ({
            Name,
            Properties: { LockDuration: 'PT5S', MaxDeliveryCount: 10, DeadLetteringOnMessageExpiration: false, RequiresSession: false },
          })),
          Topics: [],
        },
      ],
      Logging: { Type: 'Console' },
    },
  };
  const emulator = await new AzureServiceBusContainer('mcr.microsoft.com/azure-messaging/servicebus-emulator:latest')
    .acceptLicense()
    .withConfig(JSON.stringify(emulatorConfig))
    .start();
  afterAll(() => emulator.stop());
  let next = 0;
  runQueueContractSuite({
    name: 'servicebus (official emulator)',
    config: (_queue, { maxDeliveries }) => config(emulator.getConnectionString(), pool[next++ % pool.length]!, { maxDeliveries }),
    redeliveryAfterDeathMs: 15_000,
    burst: 5_000,
    depthSettleMs: 10_000,
  });
}

const live = process.env['SERVICEBUS_CONNECTION_STRING'];
if (!live) {
  console.warn('[servicebus] real-namespace variant not run: SERVICEBUS_CONNECTION_STRING is not set for this test run');
  describe.skip('queue contract: servicebus (real namespace) — not run: SERVICEBUS_CONNECTION_STRING is not set', () => {
    it('needs a namespace', () => undefined);
  });
} else {
  // Each test gets its own queue, created here and deleted afterwards (needs the Manage claim).
  const admin = new ServiceBusAdministrationClient(live);
  const created: string[] = [];
  afterAll(async () => {
    await Promise.allSettled(created.map((q) => admin.deleteQueue(q)));
  });
  runQueueContractSuite({
    name: 'servicebus (real namespace)',
    config: async (queue, { maxDeliveries }) => {
      await admin.createQueue(queue, { lockDuration: 'PT10S', maxDeliveryCount: maxDeliveries + 5 });
      created.push(queue);
      return config(live, queue, { maxDeliveries });
    },
    redeliveryAfterDeathMs: 30_000,
    burst: 5_000,
    depthSettleMs: 60_000,
    forbiddenModules: ['amqplib', '@azure/identity'],
    requiredModules: ['@azure/service-bus'],
  });
}
