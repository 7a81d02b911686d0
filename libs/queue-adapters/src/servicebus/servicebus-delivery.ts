/**
 * A peek-locked Service Bus message as a `Delivery`. Settlement goes through the receiver that
 * received it (on its link while it is open; the SDK falls back to `$management` otherwise).
 */
import type { Logger } from '@surge/core';
import type { DeadLetterOptions, ServiceBusReceivedMessage, ServiceBusReceiver } from '@azure/service-bus';
import { QueueError } from '../errors.ts';
import { DeadLetterReasons, type DeadLetter, type Delivery } from '../types.ts';
import { translateServiceBusError } from './servicebus-errors.ts';

/** Service Bus rejects longer dead-letter reasons and descriptions. */
const MAX_REASON_LENGTH = 4096;
const DEAD_LETTER_PROPERTIES = new Set(['DeadLetterReason', 'DeadLetterErrorDescription']);

export function messageBody(message: ServiceBusReceivedMessage): Buffer {
  const body: unknown = message.body;
  if (Buffer.isBuffer(body)) return body;
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (typeof body === 'string') return Buffer.from(body);
  // Another client sent an AMQP value body: keep it readable rather than fail the delivery.
  return Buffer.from(JSON.stringify(body ?? null));
}

export function messageProperties(message: ServiceBusReceivedMessage): Record<string, string> {
  const properties: Record<string, string> = {};
  for (const [key, value] of Object.entries(message.applicationProperties ?? {})) {
    if (DEAD_LETTER_PROPERTIES.has(key) || value === null || value === undefined) continue;
    properties[key] = value instanceof Date ? value.toISOString() : String(value);
  }
  return properties;
}

export function messageId(message: ServiceBusReceivedMessage): string {
  const id: unknown = message.messageId;
  if (typeof id === 'string') return id;
  if (typeof id === 'number' || typeof id === 'bigint') return String(id);
  if (Buffer.isBuffer(id)) return id.toString('hex');
  return String(message.sequenceNumber ?? '');
}

export function toDeadLetter(message: ServiceBusReceivedMessage): DeadLetter {
  return {
    id: messageId(message),
    body: messageBody(message),
    properties: messageProperties(message),
    reason: message.deadLetterReason ?? '',
    description: message.deadLetterErrorDescription,
  };
}

export interface DeliveryContext {
  queue: string;
  maxDeliveries: number;
  logger: Logger;
  /** Told once the delivery is settled (or its settlement failed), so in-flight counts stay exact. */
  onSettled: () => void;
}

export class ServiceBusDelivery implements Delivery {
  readonly id: string;
  readonly queue: string;
  readonly body: Buffer;
  readonly properties: Readonly<Record<string, string>>;
  /**
   * The SDK reports the AMQP header's count of *prior* deliveries (0 on the first, as Service Bus
   * puts it on the wire); the contract counts deliveries, so 1 on the first.
   */
  readonly deliveryCount: number;
  readonly enqueuedAt: Date | undefined;
  private readonly message: ServiceBusReceivedMessage;
  private readonly receiver: ServiceBusReceiver;
  private readonly context: DeliveryContext;
  private settled = false;

  constructor(message: ServiceBusReceivedMessage, receiver: ServiceBusReceiver, context: DeliveryContext) {
    this.message = message;
    this.receiver = receiver;
    this.context = context;
    this.id = messageId(message);
    this.queue = context.queue;
    this.body = messageBody(message);
    this.properties = messageProperties(message);
    this.deliveryCount = (message.deliveryCount ?? 0) + 1;
    this.enqueuedAt = message.enqueuedTimeUtc;
  }

  complete(): Promise<void> {
    return this.settle('complete', () => this.receiver.completeMessage(this.message));
  }

  /** Abandoned on the last allowed delivery, the message is dead-lettered here rather than by the broker's own limit. */
  abandon(): Promise<void> {
    if (this.deliveryCount >= this.context.maxDeliveries) {
      this.context.logger.warn(
        { queue: this.queue, messageId: this.id, deliveryCount: this.deliveryCount },
        'delivery limit reached; dead-lettering instead of abandoning',
      );
      return this.deadLetter(
        DeadLetterReasons.MAX_DELIVERIES,
        `abandoned on delivery ${this.deliveryCount} of at most ${this.context.maxDeliveries}`,
      );
    }
    return this.release();
  }

  /** Gives the message back without the adapter's delivery limit (the broker's MaxDeliveryCount still applies). */
  release(): Promise<void> {
    return this.settle('abandon', () => this.receiver.abandonMessage(this.message));
  }

  deadLetter(reason: string, description?: string): Promise<void> {
    return this.settle('dead-letter', () =>
      // The SDK's types require a description; at run time an absent one is simply not recorded.
      this.receiver.deadLetterMessage(this.message, {
        deadLetterReason: reason.slice(0, MAX_REASON_LENGTH),
        deadLetterErrorDescription: description?.slice(0, MAX_REASON_LENGTH),
      } as DeadLetterOptions & Record<string, string>),
    );
  }

  private async settle(what: string, action: () => Promise<void>): Promise<void> {
    if (this.settled)
      throw new QueueError('ALREADY_SETTLED', `${what}: message ${this.id} on queue ${this.queue} is already settled`, {
        queue: this.queue,
      });
    this.settled = true;
    try {
      await action();
      this.context.logger.debug({ queue: this.queue, messageId: this.id }, `message ${what}d`);
    } catch (error) {
      throw translateServiceBusError(error, `${what} message ${this.id}`, this.queue);
    } finally {
      this.context.onSettled();
    }
  }
}
