/**
 * `consume` on Service Bus: the SDK's `subscribe` with `maxConcurrentCalls` = concurrency and
 * `autoCompleteMessages: false`. `processMessage` resolves only when the handler has finished and the
 * delivery is settled, so the SDK never holds more than `concurrency` locked messages for us.
 */
import type { ServiceBusReceivedMessage, ServiceBusReceiver } from '@azure/service-bus';
import { withTimeout, type Logger } from '@surge/core';
import { InFlightTracker } from '../consumer-loop.ts';
import type { QueueError } from '../errors.ts';
import type { Consumer, DeliveryHandler } from '../types.ts';
import type { ServiceBusDelivery } from './servicebus-delivery.ts';
import { translateServiceBusError } from './servicebus-errors.ts';

export interface ServiceBusConsumerSettings {
  queue: string;
  receiver: ServiceBusReceiver;
  handler: DeliveryHandler;
  concurrency: number;
  onError: ((error: QueueError) => void) | undefined;
  logger: Logger;
  wrap: (message: ServiceBusReceivedMessage) => ServiceBusDelivery;
  closeTimeoutMs: number;
  onStopped: () => void;
  /** How long `start` waits for the receive link before resolving unattached (the SDK keeps retrying). */
  attachTimeoutMs?: number;
}

/** `subscribe` calls this hook after each (re)attach of its link; it is not in the SDK's public types. */
interface HandlersWithInitialize {
  processMessage(message: ServiceBusReceivedMessage): Promise<void>;
  processError(args: { error: Error; errorSource: string }): Promise<void>;
  postInitialize(): Promise<void>;
}

export class ServiceBusConsumer implements Consumer {
  private readonly settings: ServiceBusConsumerSettings;
  private subscription: { close(): Promise<void> } | undefined;
  private linkUp = false;
  private stopping = false;
  private count = 0;
  private idleWaiters: (() => void)[] = [];
  private stopped: Promise<void> | undefined;

  constructor(settings: ServiceBusConsumerSettings) {
    this.settings = settings;
  }

  get attached(): boolean {
    return this.linkUp && !this.stopping && !this.settings.receiver.isClosed;
  }

  get inFlight(): number {
    return this.count;
  }

  /** Subscribes; resolves once the receive link is attached, rejects on an error that retrying cannot fix. */
  async start(): Promise<void> {
    const { queue, logger } = this.settings;
    let attached!: () => void;
    let failed!: (error: QueueError) => void;
    const ready = new Promise<void>((resolve, reject) => {
      attached = resolve;
      failed = reject;
    });
    const handlers: HandlersWithInitialize = {
      processMessage: (message) => this.process(message),
      processError: async ({ error, errorSource }) => {
        const translated = translateServiceBusError(error, `consume (${errorSource})`, queue);
        if (translated.code === 'QUEUE_UNAVAILABLE' || translated.code === 'QUEUE_AUTH_FAILED' || translated.code === 'QUEUE_NOT_FOUND')
          this.linkUp = false;
        logger.warn({ queue, err: { message: translated.message, code: translated.code } }, 'service bus consumer error');
        if (!translated.retryable) failed(translated);
        this.settings.onError?.(translated);
      },
      postInitialize: async () => {
        this.linkUp = true;
        logger.info({ queue }, 'service bus consumer attached');
        attached();
      },
    };
    this.subscription = this.settings.receiver.subscribe(handlers as unknown as Parameters<ServiceBusReceiver['subscribe']>[0], {
      autoCompleteMessages: false,
      maxConcurrentCalls: this.settings.concurrency,
    });
    try {
      await withTimeout(ready, this.settings.attachTimeoutMs ?? 30_000, `attaching a consumer to queue ${queue}`);
    } catch (error) {
      if ((error as QueueError).retryable === false) {
        await this.abort();
        throw error;
      }
      // Still retrying (broker unreachable): `attached` stays false until the link comes up.
    }
  }

  /** Stops taking messages, waits for in-flight handlers, then closes the receiver. */
  stop(): Promise<void> {
    this.stopped ??= this.shutdown(true);
    return this.stopped;
  }

  /** For `close()`: stops intake and closes the receiver without waiting for handlers (their locks run out). */
  abort(): Promise<void> {
    this.stopped ??= this.shutdown(false);
    return this.stopped;
  }

  private async shutdown(drain: boolean): Promise<void> {
    this.stopping = true;
    const { receiver, closeTimeoutMs, queue } = this.settings;
    try {
      await withTimeout(this.subscription?.close() ?? Promise.resolve(), closeTimeoutMs, 'closing the subscription').catch(() => undefined);
      if (drain) await this.idle();
      await withTimeout(receiver.close(), closeTimeoutMs, 'closing the consumer receiver').catch(() => undefined);
    } finally {
      this.settings.logger.info({ queue, drained: drain }, 'service bus consumer stopped');
      this.settings.onStopped();
    }
  }

  private async process(message: ServiceBusReceivedMessage): Promise<void> {
    const delivery = this.settings.wrap(message);
    if (this.stopping) {
      // Already on its way when stop() began: give it back rather than start new work.
      await delivery.release().catch(() => undefined);
      return;
    }
    this.count++;
    try {
      // The shared tracker gives the contract's guarantee: a handler that throws or does not settle gets its delivery abandoned.
      const one = new InFlightTracker(this.settings.handler, this.settings.logger);
      one.run(delivery);
      await one.idle();
    } finally {
      this.count--;
      if (this.count === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  private idle(): Promise<void> {
    return this.count === 0 ? Promise.resolve() : new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}
