/**
 * The peer, exercised with the unmodified @azure/service-bus SDK: each test is an SDK call sequence
 * the Surge adapter relies on, checked against the broker-side state the peer exposes.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceBusAdministrationClient, ServiceBusClient, isServiceBusError, type ServiceBusReceivedMessage } from '@azure/service-bus';
import { MAX_DELIVERY_COUNT_REASON } from './peer-queue.ts';
import { waitUntil } from '../wait/index.ts';
import { startServiceBusPeer, type ServiceBusPeer } from './peer.ts';

const LOCK_MS = 1_000;
let peer: ServiceBusPeer;
let client: ServiceBusClient;

beforeAll(async () => {
  peer = await startServiceBusPeer({ lockDurationMs: LOCK_MS, maxDeliveryCount: 3 });
  client = new ServiceBusClient(peer.connectionString);
});
afterAll(async () => {
  await client?.close();
  await peer?.close();
});

function queueName(): string {
  return `peer-${randomUUID().slice(0, 8)}`;
}

async function sendBodies(queue: string, bodies: string[]): Promise<void> {
  const sender = client.createSender(queue);
  const batch = await sender.createMessageBatch();
  for (const [i, body] of bodies.entries())
    expect(batch.tryAddMessage({ body: Buffer.from(body), messageId: `m${i}`, applicationProperties: { i } })).toBe(true);
  await sender.sendMessages(batch);
  await sender.close();
}

async function expectError(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isServiceBusError(error) ? error.code : error).toBe(code);
}

describe('Service Bus peer with the real SDK', () => {
  it('splits a batched transfer, advertises the size limit, and stamps the annotations the SDK reads', async () => {
    const queue = queueName();
    const sender = client.createSender(queue);
    const batch = await sender.createMessageBatch();
    expect(batch.maxSizeInBytes).toBe(262_144);
    await sender.close();
    await sendBodies(queue, ['a', 'b', 'c']);
    expect(peer.queue(queue).activeCount).toBe(3);
    const receiver = client.createReceiver(queue, { skipParsingBodyAsJson: true, maxAutoLockRenewalDurationInMs: 0 });
    const messages = await receiver.receiveMessages(3, { maxWaitTimeInMs: 5_000 });
    expect(messages.map((m) => m.messageId)).toEqual(['m0', 'm1', 'm2']);
    expect(messages.map((m) => m.body.toString())).toEqual(['a', 'b', 'c']);
    expect(messages.map((m) => m.applicationProperties?.['i'])).toEqual([0, 1, 2]);
    expect(messages.map((m) => Number(m.sequenceNumber))).toEqual([1, 2, 3]);
    for (const m of messages) {
      expect(m.deliveryCount).toBe(0);
      expect(m.lockToken).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(m.enqueuedTimeUtc).toBeInstanceOf(Date);
      expect(m.lockedUntilUtc!.getTime()).toBeGreaterThan(m.enqueuedTimeUtc!.getTime());
    }
    expect(peer.queue(queue).lockedCount).toBe(3);
    for (const m of messages) await receiver.completeMessage(m);
    expect(peer.queue(queue).activeCount).toBe(0);
    await receiver.close();
  });

  it("a receiver settles more deliveries than rhea's 2048-slot session buffer holds", async () => {
    const queue = queueName();
    const sender = client.createSender(queue);
    for (let i = 0; i < 5; i++) {
      const batch = await sender.createMessageBatch();
      for (let j = 0; j < 500; j++) batch.tryAddMessage({ body: Buffer.from('n') });
      await sender.sendMessages(batch);
    }
    await sender.close();
    const receiver = client.createReceiver(queue, { maxAutoLockRenewalDurationInMs: 0 });
    let settled = 0;
    while (settled < 2_500) {
      const got = await receiver.receiveMessages(500, { maxWaitTimeInMs: 5_000 });
      expect(got.length).toBeGreaterThan(0);
      await Promise.all(got.map((m) => receiver.completeMessage(m)));
      settled += got.length;
    }
    expect(peer.queue(queue).activeCount).toBe(0);
    await receiver.close();
  }, 60_000);

  it('drains credit: receiveMessages on an empty queue returns empty instead of hanging', async () => {
    const receiver = client.createReceiver(queueName());
    expect(await receiver.receiveMessages(5, { maxWaitTimeInMs: 300 })).toEqual([]);
    await receiver.close();
  });

  it('abandon (modified) redelivers with delivery count + 1; dead-letter (rejected) lands in the DLQ with reason and description', async () => {
    const queue = queueName();
    await sendBodies(queue, ['x']);
    const receiver = client.createReceiver(queue, { skipParsingBodyAsJson: true });
    const [first] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    await receiver.abandonMessage(first!);
    const [second] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    expect(second!.messageId).toBe('m0');
    expect(second!.deliveryCount).toBe(1);
    await receiver.deadLetterMessage(second!, { deadLetterReason: 'Poison', deadLetterErrorDescription: 'cannot parse' });
    expect(peer.queue(queue).activeCount).toBe(0);
    expect(peer.queue(queue).deadLetterCount).toBe(1);
    const dlq = client.createReceiver(queue, { subQueueType: 'deadLetter', skipParsingBodyAsJson: true });
    const [dead] = await dlq.peekMessages(10);
    expect(dead).toMatchObject({ messageId: 'm0', deadLetterReason: 'Poison', deadLetterErrorDescription: 'cannot parse' });
    expect(dead!.body.toString()).toBe('x');
    // A dead-lettered message can be received from the DLQ like any other.
    const [fromDlq] = await dlq.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    await dlq.completeMessage(fromDlq!);
    expect(peer.queue(queue).deadLetterCount).toBe(0);
    await dlq.close();
    await receiver.close();
  });

  it('an expired lock redelivers the message; settling with the stale lock is MessageLockLost; MaxDeliveryCount dead-letters', async () => {
    const queue = queueName();
    await sendBodies(queue, ['y']);
    const receiver = client.createReceiver(queue, { maxAutoLockRenewalDurationInMs: 0 });
    const [stale] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    await waitUntil(() => peer.queue(queue).lockedCount === 0, 'the lock to expire');
    await expectError(receiver.completeMessage(stale!), 'MessageLockLost');
    const [again] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    expect(again!.deliveryCount).toBe(1);
    await receiver.abandonMessage(again!);
    const [third] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    expect(third!.deliveryCount).toBe(2);
    // The third delivery is the last one MaxDeliveryCount=3 allows.
    await receiver.abandonMessage(third!);
    expect(await receiver.receiveMessages(1, { maxWaitTimeInMs: 300 })).toEqual([]);
    const dlq = client.createReceiver(queue, { subQueueType: 'deadLetter' });
    const [dead] = await dlq.peekMessages(1);
    expect(dead!.deadLetterReason).toBe(MAX_DELIVERY_COUNT_REASON);
    await dlq.close();
    await receiver.close();
  });

  it('renew-lock on $management keeps a message locked past its lock duration', async () => {
    const queue = queueName();
    await sendBodies(queue, ['z']);
    const receiver = client.createReceiver(queue, { maxAutoLockRenewalDurationInMs: 0 });
    const [message] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    // Renew each time the lock is half spent, four times: two lock durations past the first expiry.
    let lockedUntil = message!.lockedUntilUtc!.getTime();
    for (let i = 0; i < 4; i++) {
      await waitUntil(() => Date.now() >= lockedUntil - LOCK_MS / 2, 'the lock to be half spent');
      lockedUntil = (await receiver.renewMessageLock(message!)).getTime();
      expect(lockedUntil).toBeGreaterThan(Date.now());
    }
    expect(peer.queue(queue).lockedCount).toBe(1);
    await receiver.completeMessage(message!);
    expect(peer.queue(queue).activeCount).toBe(0);
    await receiver.close();
  });

  it('the SDK auto-renews with maxAutoLockRenewalDurationInMs, and settles through $management when its link is gone', async () => {
    const queue = queueName();
    await sendBodies(queue, ['w']);
    const own = new ServiceBusClient(peer.connectionString);
    const receiver = own.createReceiver(queue, { maxAutoLockRenewalDurationInMs: 60_000 });
    const [message] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    const heldAt = Date.now();
    const renewals = (): number => peer.operationCounts()['com.microsoft:renew-lock'] ?? 0;
    const renewedBefore = renewals();
    await waitUntil(() => Date.now() - heldAt > LOCK_MS && renewals() >= renewedBefore + 2, 'two SDK renewals past the lock duration');
    expect(peer.queue(queue).lockedCount).toBe(1);
    // Cut the connection: the receive link is gone, so the SDK settles with update-disposition on a new connection.
    expect(peer.operationCounts()['com.microsoft:renew-lock']).toBeGreaterThan(0);
    peer.dropConnections();
    // The SDK learns of the cut from its socket's close event, which nothing on the peer's side shows:
    // a short pause lets that event arrive before the settle.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const before = peer.operationCounts()['com.microsoft:update-disposition'] ?? 0;
    await receiver.completeMessage(message as ServiceBusReceivedMessage);
    expect(peer.operationCounts()['com.microsoft:update-disposition']).toBe(before + 1);
    expect(peer.queue(queue).activeCount).toBe(0);
    await receiver.close();
    await own.close();
  });

  it('peek-message on the queue shows active messages without locking them', async () => {
    const queue = queueName();
    await sendBodies(queue, ['p0', 'p1']);
    const receiver = client.createReceiver(queue, { skipParsingBodyAsJson: true });
    const peeked = await receiver.peekMessages(10);
    expect(peeked.map((m) => m.body.toString())).toEqual(['p0', 'p1']);
    expect(peer.queue(queue).lockedCount).toBe(0);
    await receiver.close();
  });

  it('receiveAndDelete takes messages away at once', async () => {
    const queue = queueName();
    await sendBodies(queue, ['r']);
    const receiver = client.createReceiver(queue, { receiveMode: 'receiveAndDelete' });
    const messages = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    expect(messages).toHaveLength(1);
    expect(peer.queue(queue).activeCount).toBe(0);
    await receiver.close();
  });

  it('serves the administration client runtime properties over http on the same port', async () => {
    const queue = queueName();
    await sendBodies(queue, ['a', 'b']);
    const receiver = client.createReceiver(queue);
    const [held] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    await receiver.deadLetterMessage(held!, { deadLetterReason: 'r', deadLetterErrorDescription: 'd' });
    await receiver.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    const admin = new ServiceBusAdministrationClient(peer.connectionString);
    // What the adapter does for UseDevelopmentEmulator=true (the SDK 7.9.5 admin client always uses https).
    admin.pipeline.addPolicy({
      name: 'http',
      sendRequest: (request, next) =>
        next(Object.assign(request, { url: request.url.replace(/^https:/, 'http:'), allowInsecureConnection: true })),
    });
    const properties = await admin.getQueueRuntimeProperties(queue);
    expect(properties).toMatchObject({ name: queue, activeMessageCount: 1, deadLetterMessageCount: 1 });
    const description = await admin.getQueue(queue);
    expect(description.maxDeliveryCount).toBe(3);
    await receiver.close();
  });

  it('refuses unknown entities and unauthorised tokens the way Service Bus does', async () => {
    const strict = await startServiceBusPeer({
      autoCreateQueues: false,
      queues: { known: {} },
      authorize: (audience) => !audience.endsWith('/forbidden'),
    });
    const own = new ServiceBusClient(strict.connectionString, { retryOptions: { maxRetries: 0, timeoutInMs: 5_000 } });
    try {
      await expectError(own.createSender('missing').sendMessages({ body: 'x' }), 'MessagingEntityNotFound');
      await expectError(own.createSender('forbidden').sendMessages({ body: 'x' }), 'UnauthorizedAccess');
      await own.createSender('known').sendMessages({ body: 'x' });
      expect(strict.queue('known').activeCount).toBe(1);
    } finally {
      await own.close();
      await strict.close();
    }
  });
});
