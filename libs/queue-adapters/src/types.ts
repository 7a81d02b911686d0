/**
 * One interface for every queue backend Surge runs on. Its guarantees are at-least-once:
 * a delivery is settled only by the caller, after its side effect; anything not completed
 * (abandoned, or held by a process that died) is delivered again with `deliveryCount + 1`,
 * and after `maxDeliveries` deliveries it is dead-lettered instead of handed out again.
 */
import type { Logger } from '@surge/core';

import type { QueueError } from './errors.ts';

export type QueueKind = 'embedded' | 'rabbitmq' | 'servicebus';

/** A message to send. `id` becomes the transport message id (the contract's message id). */
export interface OutgoingMessage {
  id: string;
  body: Uint8Array;
  /** Transport properties / headers (W3C `traceparent`, `tracestate`, …). Never put secrets here. */
  properties?: Readonly<Record<string, string>>;
}

export interface Delivery {
  readonly id: string;
  readonly queue: string;
  readonly body: Buffer;
  readonly properties: Readonly<Record<string, string>>;
  /** 1 on the first delivery; +1 on every redelivery (abandon, or the holder died). */
  readonly deliveryCount: number;
  /** When the broker accepted the message, if the backend knows. */
  readonly enqueuedAt: Date | undefined;
  /** Removes the message for good. */
  complete(): Promise<void>;
  /** Returns the message for redelivery; at `maxDeliveries` it is dead-lettered instead. */
  abandon(): Promise<void>;
  /** Moves the message to the dead-letter queue with a reason; it is never redelivered. */
  deadLetter(reason: string, description?: string): Promise<void>;
}

/** What a dead-letter queue holds, as read by `peekDeadLetters`. */
export interface DeadLetter {
  readonly id: string;
  readonly body: Buffer;
  readonly properties: Readonly<Record<string, string>>;
  readonly reason: string;
  readonly description: string | undefined;
}

export interface QueueDepth {
  /** Waiting to be delivered. */
  ready: number;
  /** Delivered and not yet settled (locked, unacked, leased). */
  inFlight: number;
  deadLettered: number;
}

export type DeliveryHandler = (delivery: Delivery) => Promise<void>;

export interface ConsumeOptions {
  /** Most deliveries handed to the handler at once. */
  concurrency: number;
  /**
   * Called with errors the consumer cannot hand to a handler: a broker connection lost (and being
   * re-established), a settle that failed after the handler returned. Typed as QueueError.
   */
  onError?: (error: QueueError) => void;
  /**
   * Called once when the consumer stops for good because retrying cannot fix what fails (a damaged
   * embedded queue file); `attached` is false from then on. The caller should end the process.
   */
  onGiveUp?: (error: QueueError) => void;
}

export interface Consumer {
  /** True while the consumer is attached to the broker and can receive. */
  readonly attached: boolean;
  /** Deliveries handed to the handler and not yet finished. */
  readonly inFlight: number;
  /**
   * Stops taking new messages at once and resolves when every in-flight handler has finished.
   * A handler that returns without settling gets its delivery abandoned.
   */
  stop(): Promise<void>;
}

export interface QueueClient {
  readonly kind: QueueKind;
  readonly queue: string;
  /** Sends a batch; resolves only when the broker has confirmed every message. Waits under back-pressure. */
  send(messages: readonly OutgoingMessage[]): Promise<void>;
  /** Receives up to `max` deliveries, waiting at most `waitMs` for the first one. */
  receive(max: number, waitMs: number): Promise<Delivery[]>;
  /** Hands deliveries to `handler`, never more than `concurrency` at once. */
  consume(handler: DeliveryHandler, options: ConsumeOptions): Promise<Consumer>;
  depth(): Promise<QueueDepth>;
  /** Reads (without removing) up to `max` messages from the dead-letter queue, oldest first. */
  peekDeadLetters(max: number): Promise<DeadLetter[]>;
  /** Resolves if the broker answers; throws a QueueError (usually retryable) otherwise. */
  ping(): Promise<void>;
  /**
   * Closes connections within a bounded time and leaves no handle that keeps the process alive.
   * Unsettled deliveries go back to the broker (redelivered later).
   */
  close(): Promise<void>;
}

/** Options of `createQueueClient`; `logger` defaults to the silent logger. */
export interface AdapterOptions {
  logger?: Logger;
  /**
   * What the client is mostly for. `consume` (the workers): RabbitMQ sets up on the consume
   * connection and opens the publish connection only when something is published (a dead-letter
   * copy), so a receive-only Job pod holds one broker connection instead of two — a thousand pods
   * starting at once make that a thousand fewer handshakes. `observe` (the exporter): the client only
   * reads depth, so it declares nothing — the queue's arguments belong to the producer and workers
   * that create it, and RabbitMQ refuses a redeclare with another `x-delivery-limit` — and a
   * consumer-side setting such as `QUEUE_MAX_DELIVERIES` cannot make it fail. Default `publish`.
   */
  usage?: 'consume' | 'publish' | 'observe';
}

/**
 * Dead-letter reasons the adapters set themselves. A message that ran out of deliveries carries Service
 * Bus' own word for it on every backend, so a report or an alert reads one reason whatever the broker.
 */
export const DeadLetterReasons = {
  MAX_DELIVERIES: 'MaxDeliveryCountExceeded',
} as const;
