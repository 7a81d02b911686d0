/**
 * Confirmed publishing in windows. A batch is written without waiting for each confirm (one
 * round-trip per message would cap throughput, streadway/amqp#201), but never more than `window`
 * messages are unconfirmed at once, and `send()` resolves only when the broker has confirmed every
 * message of its batch — so a producer killed mid-load loses nothing it reported as sent.
 *
 * Back-pressure: `publish()` returning false means the socket buffer is full → wait for `drain`
 * (amqplib#669). A connection blocked by a broker alarm accepts writes and then hangs silently
 * (amqplib#398): sends wait for `unblocked` for a bounded time and fail with `QUEUE_BLOCKED`.
 */
import type { Logger } from '@surge/core';
import type { ConfirmChannel, Options } from 'amqplib';
import { QueueError } from '../errors.ts';
import { toQueueError } from './amqp-errors.ts';
import type { ManagedConnection } from './connection.ts';

export interface PublishTuning {
  /** Most unconfirmed messages on the channel at once. */
  window: number;
  /** Bound of one `send()`: waiting for a connection, for `unblocked`, for `drain` and for confirms. */
  sendTimeoutMs: number;
}

export const DEFAULT_PUBLISH_TUNING: PublishTuning = { window: 2000, sendTimeoutMs: 30_000 };

export interface Publication {
  exchange: string;
  routingKey: string;
  content: Buffer;
  options: Options.Publish;
}

export class ConfirmPublisher {
  private readonly connection: ManagedConnection;
  private readonly queue: string;
  private readonly logger: Logger;
  private readonly tuning: PublishTuning;
  private channel: ConfirmChannel | undefined;
  private opening: Promise<ConfirmChannel> | undefined;
  private unconfirmed = 0;
  private windowWaiters: (() => void)[] = [];
  /** Message ids the broker returned as unroutable (no such queue) — `mandatory` publishes. */
  private readonly returned = new Set<string>();

  constructor(connection: ManagedConnection, queue: string, logger: Logger, tuning: PublishTuning) {
    this.connection = connection;
    this.queue = queue;
    this.logger = logger;
    this.tuning = tuning;
  }

  /** Publishes every item and resolves when all are confirmed; throws a QueueError otherwise. */
  async publish(items: readonly Publication[]): Promise<void> {
    if (items.length === 0) return;
    const deadline = Date.now() + this.tuning.sendTimeoutMs;
    const channel = await this.openChannel(deadline);
    await this.waitUnblocked(deadline);

    let pending = items.length;
    let failure: QueueError | undefined;
    let settle!: () => void;
    const confirmed = new Promise<void>((resolve) => (settle = resolve));
    const onConfirm = (error: unknown) => {
      this.unconfirmed--;
      this.windowWaiters.shift()?.();
      if (error && !failure) failure = this.failure(error);
      if (--pending === 0) settle();
    };

    let written = 0;
    try {
      for (const item of items) {
        if (this.unconfirmed >= this.tuning.window) await this.waitWindow(deadline);
        if (this.channel !== channel)
          throw new QueueError('UNAVAILABLE', 'the publish channel closed during a send', { queue: this.queue });
        this.unconfirmed++;
        written++;
        const flushed = channel.publish(item.exchange, item.routingKey, item.content, item.options, onConfirm);
        if (!flushed) await this.waitDrain(channel, deadline);
      }
    } catch (error) {
      // Messages not written will never be confirmed: account for them, then wait for the written ones.
      const unwritten = items.length - written;
      pending -= unwritten;
      failure ??= toQueueError(error, 'publish failed', this.queue);
      if (pending === 0) settle();
    }
    await this.bounded(confirmed, deadline, () => this.timeoutError('confirms'));
    if (!failure) {
      for (const item of items) {
        const id = item.options.messageId;
        if (id !== undefined && this.returned.delete(id)) {
          failure = new QueueError(
            'NOT_FOUND',
            `the broker could not route message ${id}: queue ${item.routingKey || item.exchange} does not exist`,
            { queue: this.queue },
          );
        }
      }
    }
    if (failure) throw failure;
  }

  private failure(error: unknown): QueueError {
    if (error instanceof Error && /nacked/i.test(error.message)) {
      return new QueueError('UNAVAILABLE', 'the broker refused (nacked) a message; it was not stored', { queue: this.queue, cause: error });
    }
    return toQueueError(error, 'publish not confirmed', this.queue);
  }

  private async openChannel(deadline: number): Promise<ConfirmChannel> {
    if (this.channel) return this.channel;
    this.opening ??= (async () => {
      const model = await this.connection.get(Math.max(0, deadline - Date.now()));
      let channel: ConfirmChannel;
      try {
        channel = await model.createConfirmChannel();
      } catch (error) {
        throw toQueueError(error, 'cannot open a publish channel', this.queue);
      }
      channel.on('error', (error: Error) =>
        this.logger.warn({ queue: this.queue, err: error.message }, 'publish channel closed by the broker'),
      );
      channel.on('return', (message: { properties: { messageId?: string } }) => {
        if (message.properties.messageId) this.returned.add(message.properties.messageId);
      });
      channel.on('close', () => {
        if (this.channel === channel) this.channel = undefined;
        // The channel's unconfirmed callbacks have failed; free the window for the next channel.
        for (const wake of this.windowWaiters.splice(0)) wake();
      });
      this.channel = channel;
      return channel;
    })().finally(() => (this.opening = undefined));
    return this.opening;
  }

  private async waitUnblocked(deadline: number): Promise<void> {
    if (!this.connection.blocked) return;
    const unblocked = new Promise<void>((resolve) => this.connection.once('unblocked', resolve));
    await this.bounded(
      unblocked,
      deadline,
      () =>
        new QueueError(
          'BLOCKED',
          `RabbitMQ is blocking publishers (${this.connection.blocked ?? 'resource alarm'}); not unblocked within the send budget`,
          { queue: this.queue },
        ),
    );
  }

  private waitWindow(deadline: number): Promise<void> {
    const free = new Promise<void>((resolve) => this.windowWaiters.push(resolve));
    return this.bounded(free, deadline, () => this.timeoutError('a confirm window slot'));
  }

  private waitDrain(channel: ConfirmChannel, deadline: number): Promise<void> {
    const drained = new Promise<void>((resolve) => {
      const done = () => {
        channel.off('drain', done);
        channel.off('close', done);
        resolve();
      };
      channel.on('drain', done);
      channel.on('close', done);
    });
    return this.bounded(drained, deadline, () => this.timeoutError('drain'));
  }

  private timeoutError(what: string): QueueError {
    // Waiting on a blocked connection is the usual reason; say so.
    if (this.connection.blocked)
      return new QueueError('BLOCKED', `RabbitMQ is blocking publishers (${this.connection.blocked}) while waiting for ${what}`, {
        queue: this.queue,
      });
    return new QueueError('TIMEOUT', `no ${what} within ${this.tuning.sendTimeoutMs} ms`, { queue: this.queue });
  }

  private async bounded<T>(promise: Promise<T>, deadline: number, error: () => QueueError): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(error()), Math.max(0, deadline - Date.now()));
      timer.unref();
    });
    try {
      return await Promise.race([promise, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    const channel = this.channel;
    this.channel = undefined;
    if (channel) await channel.close().catch(() => undefined);
  }
}
