/**
 * A delivery is tied to the channel it came on: delivery tags mean nothing on any other channel,
 * and acking a stale tag on a new channel gets that channel closed with 406 (amqplib#271). So once
 * its channel is gone, settling throws `QUEUE_DELIVERY_LOST` and the broker redelivers the message.
 */
import type { Channel, ConsumeMessage, GetMessage, MessagePropertyHeaders } from 'amqplib';
import { QueueError } from '../errors.ts';
import type { Delivery } from '../types.ts';
import {
  DEAD_LETTER_DELIVERY_COUNT_HEADER,
  DEAD_LETTER_DESCRIPTION_HEADER,
  DEAD_LETTER_REASON_HEADER,
  MAX_DELIVERIES_REASON,
  isTransportHeader,
} from './topology.ts';

/** A channel and whether it is still open: shared by every delivery that came on it. */
export class Lane {
  readonly channel: Channel;
  open = true;
  constructor(channel: Channel) {
    this.channel = channel;
    channel.once('close', () => (this.open = false));
  }
}

export interface DeliveryContext {
  queue: string;
  maxDeliveries: number;
  /** Publishes a copy to the dead-letter exchange and waits for its confirm. */
  publishDeadLetter(message: ConsumeMessage | GetMessage, headers: MessagePropertyHeaders): Promise<void>;
}

export class RabbitMqDelivery implements Delivery {
  readonly id: string;
  readonly queue: string;
  readonly body: Buffer;
  readonly properties: Readonly<Record<string, string>>;
  readonly deliveryCount: number;
  readonly enqueuedAt: Date | undefined;
  readonly lane: Lane;
  private readonly message: ConsumeMessage | GetMessage;
  private readonly context: DeliveryContext;
  private settled = false;

  constructor(lane: Lane, message: ConsumeMessage | GetMessage, context: DeliveryContext) {
    this.lane = lane;
    this.message = message;
    this.context = context;
    this.queue = context.queue;
    this.body = message.content;
    const props = message.properties;
    this.id = typeof props.messageId === 'string' && props.messageId ? props.messageId : `rabbitmq:${message.fields.deliveryTag}`;
    this.properties = userProperties(props.headers);
    this.deliveryCount = deliveryCountOf(message);
    this.enqueuedAt = typeof props.timestamp === 'number' ? new Date(props.timestamp * 1000) : undefined;
  }

  /** True when the message already used up its deliveries (the broker's limit did not catch it). */
  get overLimit(): boolean {
    return this.deliveryCount > this.context.maxDeliveries;
  }

  async complete(): Promise<void> {
    this.claim('complete');
    this.lane.channel.ack(this.message);
  }

  async abandon(): Promise<void> {
    if (this.deliveryCount >= this.context.maxDeliveries) {
      return this.deadLetter(MAX_DELIVERIES_REASON, `delivered ${this.deliveryCount} times (maxDeliveries ${this.context.maxDeliveries})`);
    }
    this.claim('abandon');
    // requeue: the quorum queue counts the return in x-delivery-count.
    this.lane.channel.nack(this.message, false, true);
  }

  /**
   * The reason must travel with the message, which a reject cannot do: publish a copy with the
   * reason headers to the dead-letter exchange, wait for its confirm, then ack the original. If the
   * channel dies in between, the copy is in the dead-letter queue and the original comes back —
   * at-least-once, like everything else here.
   */
  async deadLetter(reason: string, description?: string): Promise<void> {
    this.claim('deadLetter');
    const headers: MessagePropertyHeaders = {
      ...(this.message.properties.headers ?? {}),
      [DEAD_LETTER_REASON_HEADER]: reason,
      [DEAD_LETTER_DELIVERY_COUNT_HEADER]: this.deliveryCount,
    };
    if (description !== undefined) headers[DEAD_LETTER_DESCRIPTION_HEADER] = description;
    try {
      await this.context.publishDeadLetter(this.message, headers);
    } catch (error) {
      this.settled = false;
      throw error;
    }
    if (!this.lane.open) throw this.lost('deadLetter');
    this.lane.channel.ack(this.message);
  }

  private claim(operation: string): void {
    if (this.settled) throw new QueueError('ALREADY_SETTLED', `${operation}: delivery ${this.id} is already settled`, { queue: this.queue });
    if (!this.lane.open) throw this.lost(operation);
    this.settled = true;
  }

  private lost(operation: string): QueueError {
    return new QueueError('DELIVERY_LOST', `${operation}: the channel of delivery ${this.id} closed; RabbitMQ redelivers the message`, { queue: this.queue });
  }

  /** Returns the message to the queue without handing it out (stop(), close()). */
  release(): void {
    if (this.settled || !this.lane.open) return;
    this.settled = true;
    this.lane.channel.nack(this.message, false, true);
  }
}

/**
 * 1 on the first delivery. Quorum queues put the number of earlier deliveries in a header:
 * `x-delivery-count` (RabbitMQ 3.x counts every return; 4.x only failed ones) and, on 4.x,
 * `x-acquired-count` (every time a consumer took it, including consumers that died). The larger
 * one is the number of earlier deliveries. Without either, `redelivered` says at least one.
 */
export function deliveryCountOf(message: ConsumeMessage | GetMessage): number {
  const headers = message.properties.headers ?? {};
  const earlier = Math.max(toCount(headers['x-delivery-count']), toCount(headers['x-acquired-count']));
  if (earlier > 0) return earlier + 1;
  return message.fields.redelivered ? 2 : 1;
}

function toCount(value: unknown): number {
  const n = typeof value === 'number' ? value : typeof value === 'bigint' ? Number(value) : typeof value === 'string' ? Number(value) : NaN;
  return Number.isFinite(n) && n > 0 ? n : 0;
}

/** String headers the sender set (traceparent, …), without broker or adapter bookkeeping. */
export function userProperties(headers: MessagePropertyHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers) return out;
  for (const [key, value] of Object.entries(headers)) {
    if (isTransportHeader(key)) continue;
    if (typeof value === 'string') out[key] = value;
    else if (Buffer.isBuffer(value)) out[key] = value.toString('utf8');
  }
  return out;
}
