/**
 * The RabbitMQ backend against a real broker: a private node started for this file (or
 * RABBITMQ_URL when set). The shared contract suite, then what is specific to RabbitMQ.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectDepthWithin, runQueueContractSuite } from '@surge/queue-adapters/testing';
import { startRabbitMq, type RabbitMqInstance } from '@surge/testing';
import { createQueueClient, queueConfigFromEnv, type QueueClient, type QueueDepth, type RabbitMqQueueConfig } from '../src/index.ts';
import { ConfigError } from '@surge/core';

let broker: RabbitMqInstance;
beforeAll(async () => {
  broker = await startRabbitMq();
}, 120_000);
afterAll(async () => {
  await broker?.stop();
}, 60_000);

function config(queue: string, overrides: Partial<RabbitMqQueueConfig> = {}): RabbitMqQueueConfig {
  return {
    kind: 'rabbitmq',
    queue,
    maxDeliveries: 5,
    maxProcessingMs: 60_000,
    url: broker.url,
    managementUrl: broker.managementUrl,
    prefetch: undefined,
    ...overrides,
  };
}

function uniqueQueue(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** Roles (`publish`/`consume`) of the open connections Surge named after `queue`, from the management API. */
async function connectionRoles(queue: string): Promise<string[]> {
  const url = new URL('api/connections?columns=client_properties.connection_name', `${broker.managementUrl}/`);
  const authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
  url.username = '';
  url.password = '';
  const response = await fetch(url, { headers: { authorization } });
  const connections = (await response.json()) as { client_properties?: { connection_name?: string } }[];
  return connections
    .map((c) => /^surge-(\w+):(.+)@/.exec(c.client_properties?.connection_name ?? ''))
    .filter((m): m is RegExpExecArray => m !== null && m[2] === queue)
    .map((m) => m[1]!)
    .sort();
}

const eventuallyDepth = (client: QueueClient, expected: QueueDepth): Promise<void> => expectDepthWithin(client, expected, 15_000);

runQueueContractSuite({
  name: 'rabbitmq',
  config: (queue, { maxDeliveries }) => config(queue, { maxDeliveries }),
  // The broker returns a dead consumer's messages as soon as its connection drops.
  redeliveryAfterDeathMs: 15_000,
  // Depth comes from the management API, whose statistics are sampled.
  depthSettleMs: 15_000,
  forbiddenModules: ['@azure/service-bus', '@azure/identity', 'rhea'],
  requiredModules: ['amqplib'],
});

describe('rabbitmq configuration', () => {
  it('names the variable and the expected form when the URL is missing or wrong', () => {
    expect(() => queueConfigFromEnv({ QUEUE_KIND: 'rabbitmq' })).toThrow(ConfigError);
    expect(() => queueConfigFromEnv({ QUEUE_KIND: 'rabbitmq' })).toThrow(/RABBITMQ_URL/);
    expect(() => queueConfigFromEnv({ QUEUE_KIND: 'rabbitmq', RABBITMQ_URL: 'http://u:p@127.0.0.1:5672' })).toThrow(/RABBITMQ_URL/);
    expect(() =>
      queueConfigFromEnv({ QUEUE_KIND: 'rabbitmq', RABBITMQ_URL: 'amqp://127.0.0.1', RABBITMQ_MANAGEMENT_URL: 'amqp://x' }),
    ).toThrow(/RABBITMQ_MANAGEMENT_URL/);
    expect(() => queueConfigFromEnv({ QUEUE_KIND: 'rabbitmq', RABBITMQ_URL: 'amqp://127.0.0.1', RABBITMQ_PREFETCH: '0' })).toThrow(
      /RABBITMQ_PREFETCH/,
    );
  });

  it('never puts the password in an error message', () => {
    try {
      queueConfigFromEnv({
        QUEUE_KIND: 'rabbitmq',
        RABBITMQ_URL: 'amqp://user:s3cretpw@127.0.0.1:5672',
        RABBITMQ_MANAGEMENT_URL: 'ftp://user:s3cretpw@x',
      });
      expect.unreachable();
    } catch (error) {
      expect(String((error as Error).message)).not.toContain('s3cretpw');
    }
  });

  it('an unreachable broker is UNAVAILABLE and retryable', async () => {
    const error = await createQueueClient(config(uniqueQueue('down'), { url: 'amqp://u:p@127.0.0.1:1/' })).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'QUEUE_UNAVAILABLE', retryable: true });
    expect((error as Error).message).not.toContain('u:p');
  });

  it('wrong credentials are AUTH_FAILED and not retryable, and the password is not in the message', async () => {
    const url = new URL(broker.url);
    url.password = 'wrong-password-xyz';
    const error = await createQueueClient(config(uniqueQueue('auth'), { url: url.toString() })).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'QUEUE_AUTH_FAILED', retryable: false });
    expect((error as Error).message).not.toContain('wrong-password-xyz');
  });

  it('a queue declared with other arguments is INCOMPATIBLE', async () => {
    const queue = uniqueQueue('incompat');
    const first = await createQueueClient(config(queue, { maxDeliveries: 5 }));
    try {
      await expect(createQueueClient(config(queue, { maxDeliveries: 7 }))).rejects.toMatchObject({
        code: 'QUEUE_INCOMPATIBLE',
        retryable: false,
      });
    } finally {
      await first.close();
    }
  });
});

describe('rabbitmq specifics', () => {
  it('carries id, properties and enqueue time; settling twice is ALREADY_SETTLED', async () => {
    const client = await createQueueClient(config(uniqueQueue('props')));
    try {
      const id = randomUUID();
      await client.send([
        { id, body: new Uint8Array([123, 125]), properties: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' } },
      ]);
      const [delivery] = await client.receive(1, 10_000);
      expect(delivery).toMatchObject({
        id,
        queue: client.queue,
        deliveryCount: 1,
        properties: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
      });
      expect(delivery!.body.toString()).toBe('{}');
      expect(delivery!.enqueuedAt).toBeInstanceOf(Date);
      expect(Math.abs(delivery!.enqueuedAt!.getTime() - Date.now())).toBeLessThan(60_000);
      await delivery!.complete();
      await expect(delivery!.complete()).rejects.toMatchObject({ code: 'QUEUE_ALREADY_SETTLED' });
      await expect(delivery!.abandon()).rejects.toMatchObject({ code: 'QUEUE_ALREADY_SETTLED' });
    } finally {
      await client.close();
    }
  });

  it('receive(max) holds at most max unacked, even with more ready', async () => {
    const client = await createQueueClient(config(uniqueQueue('recvmax')));
    try {
      await client.send(Array.from({ length: 20 }, (_, i) => ({ id: randomUUID(), body: Buffer.from(String(i)) })));
      const got = await client.receive(3, 5_000);
      expect(got).toHaveLength(3);
      await eventuallyDepth(client, { ready: 17, inFlight: 3, deadLettered: 0 });
      for (const d of got) await d.complete();
      // waitMs 0: what is ready now, without waiting.
      const now = await client.receive(5, 0);
      expect(now).toHaveLength(5);
      for (const d of now) await d.abandon();
      await eventuallyDepth(client, { ready: 17, inFlight: 0, deadLettered: 0 });
    } finally {
      await client.close();
    }
  });

  it('acks are coalesced, yet never cover a delivery still being worked on, and are all sent before close', async () => {
    const queue = uniqueQueue('acks');
    const ids = Array.from({ length: 6 }, () => randomUUID());
    const client = await createQueueClient(config(queue), { usage: 'consume' });
    await client.send(ids.map((id) => ({ id, body: Buffer.from(id) })));
    const got = await client.receive(6, 5_000);
    expect(got.map((d) => d.id)).toEqual(ids);
    // The 1st and 4th are still in progress when the others complete, out of order.
    for (const d of [got[5]!, got[1]!, got[4]!, got[2]!]) await d.complete();
    await client.close(); // the two unsettled ones go back; the four completed must not
    const again = await createQueueClient(config(queue), { usage: 'consume' });
    try {
      const back = await again.receive(6, 5_000);
      expect(back.map((d) => d.id).sort()).toEqual([ids[0], ids[3]].sort());
      for (const d of back) await d.complete();
      await eventuallyDepth(again, { ready: 0, inFlight: 0, deadLettered: 0 });
    } finally {
      await again.close();
    }
  });

  it("usage 'consume' holds one connection, named after its queue, until it publishes", async (context) => {
    if (!broker.managementUrl) {
      console.warn('skipped: listing connections needs the management API (RABBITMQ_MANAGEMENT_URL is not set for this broker)');
      context.skip();
    }
    const queue = uniqueQueue('usage');
    const producer = await createQueueClient(config(queue));
    await producer.send([{ id: randomUUID(), body: Buffer.from('a') }]);
    await producer.close();
    const worker = await createQueueClient(config(queue), { usage: 'consume' });
    try {
      const [delivery] = await worker.receive(1, 5_000);
      await expect.poll(() => connectionRoles(queue), { timeout: 10_000 }).toEqual(['consume']);
      // A dead-letter copy is a publish: the publish connection opens now, and only now.
      await delivery!.deadLetter('Test', 'opens the publish side');
      await expect.poll(() => connectionRoles(queue), { timeout: 10_000 }).toEqual(['consume', 'publish']);
    } finally {
      await worker.close();
    }
  });

  it('peekDeadLetters reads without removing, oldest first', async () => {
    const client = await createQueueClient(config(uniqueQueue('peek')));
    try {
      const ids = Array.from({ length: 3 }, () => randomUUID());
      await client.send(ids.map((id) => ({ id, body: Buffer.from(id) })));
      for (const id of ids) {
        const [d] = await client.receive(1, 5_000);
        expect(d!.id).toBe(id);
        await d!.deadLetter('Poison', `message ${id}`);
      }
      const first = await client.peekDeadLetters(10);
      const second = await client.peekDeadLetters(2);
      expect(first.map((d) => d.id)).toEqual(ids);
      expect(second.map((d) => d.id)).toEqual(ids.slice(0, 2));
      expect(first.map((d) => d.reason)).toEqual(['Poison', 'Poison', 'Poison']);
      await eventuallyDepth(client, { ready: 0, inFlight: 0, deadLettered: 3 });
    } finally {
      await client.close();
    }
  });

  it('without a management URL, depth falls back to a passive declare (ready only)', async () => {
    const client = await createQueueClient(config(uniqueQueue('passive'), { managementUrl: undefined }));
    try {
      await client.send(Array.from({ length: 4 }, () => ({ id: randomUUID(), body: Buffer.from('x') })));
      const held = await client.receive(1, 5_000);
      // Passive declare is exact but cannot see unacked messages.
      expect(await client.depth()).toEqual({ ready: 3, inFlight: 0, deadLettered: 0 });
      await held[0]!.deadLetter('Test');
      expect(await client.depth()).toEqual({ ready: 3, inFlight: 0, deadLettered: 1 });
    } finally {
      await client.close();
    }
  });

  it('ping answers while connected; calls after close() fail with CLOSED', async () => {
    const client = await createQueueClient(config(uniqueQueue('ping')));
    await client.ping();
    await client.close();
    await expect(client.ping()).rejects.toMatchObject({ code: 'QUEUE_CLOSED' });
    await expect(client.send([{ id: randomUUID(), body: Buffer.from('x') }])).rejects.toMatchObject({ code: 'QUEUE_CLOSED' });
  });

  it('a broker resource alarm blocks sends: they wait, then fail with BLOCKED; they succeed once it clears', async (context) => {
    if (!broker.controllable) {
      console.warn(`skipped: raising a memory alarm needs a private node (this run uses ${broker.source})`);
      context.skip();
    }
    const { RabbitMqQueueClient } = await import('../src/rabbitmq/rabbitmq-client.ts');
    const client = await RabbitMqQueueClient.connect(config(uniqueQueue('alarm')), { publish: { sendTimeoutMs: 2_000 } });
    try {
      await client.send([{ id: randomUUID(), body: Buffer.from('before') }]);
      await broker.ctl(['set_vm_memory_high_watermark', 'absolute', '1']);
      try {
        await expect(client.send([{ id: randomUUID(), body: Buffer.from('during') }])).rejects.toMatchObject({
          code: 'QUEUE_BLOCKED',
          retryable: true,
        });
      } finally {
        await broker.ctl(['set_vm_memory_high_watermark', '0.4']);
      }
      // The send that timed out may still land; either way a new send goes through.
      const id = randomUUID();
      await client.send([{ id, body: Buffer.from('after') }]);
      // Consuming was never blocked: the consume connection is separate.
      const got = await client.receive(10, 5_000);
      expect(got.map((d) => d.id)).toContain(id);
    } finally {
      await client.close();
    }
  }, 60_000);
});
