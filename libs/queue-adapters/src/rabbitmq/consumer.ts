/**
 * A push consumer with a concurrency limit. `prefetch` (≥ concurrency) is set on the channel
 * before `basic.consume` — without it one pod takes the whole backlog as unacked (amqplib#564)
 * — and never more than `concurrency` handlers run, deliveries beyond that wait here.
 *
 * When the channel or the connection goes, deliveries of that channel are lost to us (their settle
 * throws DELIVERY_LOST; the broker redelivers them), `attached` turns false, `onError` hears a
 * retryable error, and the consumer re-attaches on a new channel when it can. A channel the
 * broker closed on an otherwise healthy connection (consumer timeout, queue deleted) is re-created
 * too — connection-level recovery alone would leave it dead (amqp-connection-manager#347).
 *
 * `stop()` cancels by consumer tag, returns deliveries no handler has started, waits for
 * in-flight handlers (the unsettled ones are abandoned), then closes the channel (amqplib#524).
 */
import type { Channel, ConsumeMessage } from 'amqplib';
import { backoffDelay, type Logger } from '@surge/core';
import { InFlightTracker } from '../consumer-loop.ts';
import { QueueError } from '../errors.ts';
import type { Consumer, DeliveryHandler } from '../types.ts';
import { toQueueError } from './amqp-errors.ts';
import type { ManagedConnection } from './connection.ts';
import { Lane, RabbitMqDelivery, type DeliveryContext } from './delivery.ts';

/** Bound of the channel.open + basic.qos + basic.consume round-trips of one attach. */
const ATTACH_TIMEOUT_MS = 10_000;

export interface ConsumerSettings {
  queue: string;
  concurrency: number;
  prefetch: number;
  handler: DeliveryHandler;
  onError: ((error: QueueError) => void) | undefined;
  logger: Logger;
  context: DeliveryContext;
  /** Dead-letters a delivery that arrives with its deliveries used up, without running the handler. */
  retire(delivery: RabbitMqDelivery): void;
}

export class RabbitMqConsumer implements Consumer {
  private readonly connection: ManagedConnection;
  private readonly settings: ConsumerSettings;
  private readonly tracker: InFlightTracker;
  private readonly waiting: RabbitMqDelivery[] = [];
  private lane: Lane | undefined;
  private consumerTag: string | undefined;
  private stopping = false;
  private stopped: Promise<void> | undefined;
  private reattaching: Promise<void> | undefined;
  private pumpScheduled = false;
  private readonly onConnectionReady = () => this.scheduleAttach();

  private constructor(connection: ManagedConnection, settings: ConsumerSettings) {
    this.connection = connection;
    this.settings = settings;
    this.tracker = new InFlightTracker(settings.handler, settings.logger);
  }

  static async start(connection: ManagedConnection, settings: ConsumerSettings, attachWaitMs: number): Promise<RabbitMqConsumer> {
    const consumer = new RabbitMqConsumer(connection, settings);
    await consumer.attach(attachWaitMs);
    connection.on('ready', consumer.onConnectionReady);
    return consumer;
  }

  get attached(): boolean {
    return !this.stopping && this.lane?.open === true && this.consumerTag !== undefined;
  }

  get inFlight(): number {
    return this.tracker.inFlight;
  }

  /** Bounded: a broker that is still recovering its queues may leave a consume request unanswered. */
  private async attach(waitMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    let abandoned = false;
    const attempt = this.attachOnce(waitMs, () => abandoned);
    attempt.catch(() => undefined); // after a timeout nobody awaits it any more
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        abandoned = true;
        reject(
          new QueueError('TIMEOUT', `attaching the consumer took longer than ${waitMs + ATTACH_TIMEOUT_MS} ms`, {
            queue: this.settings.queue,
          }),
        );
      }, waitMs + ATTACH_TIMEOUT_MS);
      timer.unref();
    });
    try {
      await Promise.race([attempt, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async attachOnce(waitMs: number, abandoned: () => boolean): Promise<void> {
    const model = await this.connection.get(waitMs);
    let channel: Channel;
    try {
      channel = await model.createChannel();
    } catch (error) {
      throw toQueueError(error, 'cannot open a consume channel', this.settings.queue);
    }
    const lane = new Lane(channel, this.settings.prefetch);
    channel.on('error', (error: Error) =>
      this.settings.logger.warn({ queue: this.settings.queue, err: error.message }, 'consume channel closed by the broker'),
    );
    channel.once('close', () => this.onLaneClosed(lane));
    try {
      // Per-consumer prefetch, set before consuming (quorum queues ignore the global flag).
      await channel.prefetch(this.settings.prefetch, false);
      if (this.stopping) throw new QueueError('CLOSED', 'consumer stopped while attaching', { queue: this.settings.queue });
      const { consumerTag } = await channel.consume(this.settings.queue, (message) => this.onMessage(lane, message), { noAck: false });
      if (abandoned()) throw new QueueError('TIMEOUT', 'consume-ok came after the attach timeout', { queue: this.settings.queue });
      this.lane = lane;
      this.consumerTag = consumerTag;
      this.settings.logger.info(
        { queue: this.settings.queue, prefetch: this.settings.prefetch, concurrency: this.settings.concurrency },
        'rabbitmq consumer attached',
      );
    } catch (error) {
      await channel.close().catch(() => undefined);
      throw toQueueError(error, 'cannot start consuming', this.settings.queue);
    }
  }

  private onMessage(lane: Lane, message: ConsumeMessage | null): void {
    if (message === null) {
      // basic.cancel from the broker (queue deleted, node going down): re-attach like after a drop.
      this.settings.logger.warn({ queue: this.settings.queue }, 'the broker cancelled the consumer');
      if (this.lane === lane) this.consumerTag = undefined;
      void lane.close().catch(() => undefined);
      return;
    }
    const delivery = new RabbitMqDelivery(lane, message, this.settings.context);
    if (delivery.overLimit) return this.settings.retire(delivery);
    if (this.stopping) return delivery.release();
    if (this.tracker.inFlight < this.settings.concurrency && this.waiting.length === 0) this.tracker.run(delivery);
    else this.waiting.push(delivery);
    this.pump();
  }

  /** Starts waiting deliveries as handler slots free up. */
  private pump(): void {
    while (!this.stopping && this.waiting.length > 0 && this.tracker.inFlight < this.settings.concurrency) {
      const next = this.waiting.shift()!;
      if (next.lane.open) this.tracker.run(next);
    }
    if (this.waiting.length > 0 && !this.pumpScheduled) {
      this.pumpScheduled = true;
      void this.tracker.slot(this.settings.concurrency).then(() => {
        this.pumpScheduled = false;
        this.pump();
      });
    }
  }

  private onLaneClosed(lane: Lane): void {
    // Deliveries of the dead channel that no handler started are simply gone: the broker has them back.
    for (let i = this.waiting.length - 1; i >= 0; i--) if (this.waiting[i]!.lane === lane) this.waiting.splice(i, 1);
    if (this.lane !== lane) return;
    this.lane = undefined;
    this.consumerTag = undefined;
    if (this.stopping) return;
    const error = new QueueError(
      'UNAVAILABLE',
      'the consume channel closed; re-attaching (in-flight deliveries will be redelivered by the broker)',
      { queue: this.settings.queue },
    );
    this.settings.logger.warn({ queue: this.settings.queue, inFlight: this.tracker.inFlight }, 'rabbitmq consumer detached');
    this.report(error);
    // With the connection alive (a channel-level close) re-attach now; otherwise wait for 'ready'.
    if (this.connection.current) this.scheduleAttach();
  }

  private scheduleAttach(): void {
    if (this.stopping || this.reattaching || this.attached) return;
    this.reattaching = (async () => {
      for (let attempt = 0; !this.stopping && !this.attached; attempt++) {
        // No `return` while the connection is down: a 'ready' that fires while this loop is still
        // running finds `reattaching` set and does nothing, so this loop must carry on by itself.
        // attach() waits for the reconnection (bounded) before it opens a channel.
        try {
          await this.attach(5_000);
          return;
        } catch (error) {
          const queueError = toQueueError(error, 'cannot re-attach the consumer', this.settings.queue);
          this.settings.logger.warn(
            { queue: this.settings.queue, attempt: attempt + 1, code: queueError.code },
            'consumer re-attach failed; retrying',
          );
          this.report(queueError);
          await new Promise<void>((resolve) => setTimeout(resolve, Math.max(100, backoffDelay(attempt, 250, 5_000))).unref());
        }
      }
    })().finally(() => (this.reattaching = undefined));
  }

  private report(error: QueueError): void {
    try {
      this.settings.onError?.(error);
    } catch (callbackError) {
      this.settings.logger.error({ queue: this.settings.queue, err: (callbackError as Error).message }, 'onError callback threw');
    }
  }

  stop(): Promise<void> {
    this.stopped ??= this.doStop();
    return this.stopped;
  }

  /** For close(): stop intake and return unstarted deliveries, but do not wait for handlers. */
  halt(): void {
    this.stopping = true;
    this.connection.off('ready', this.onConnectionReady);
    for (const delivery of this.waiting.splice(0)) delivery.release();
  }

  private async doStop(): Promise<void> {
    this.halt();
    // A re-attach under way finishes first, so the channel it opens is the one cancelled below.
    await this.reattaching;
    const lane = this.lane;
    const tag = this.consumerTag;
    this.consumerTag = undefined;
    if (lane?.open && tag !== undefined) {
      try {
        await lane.channel.cancel(tag);
      } catch (error) {
        this.settings.logger.debug(
          { queue: this.settings.queue, err: (error as Error).message },
          'cancel failed (channel already closing)',
        );
      }
    }
    // Deliveries that were in transit before cancel-ok arrived.
    for (const delivery of this.waiting.splice(0)) delivery.release();
    await this.tracker.idle();
    if (lane?.open) await lane.close().catch(() => undefined);
    this.lane = undefined;
  }
}
