/**
 * One AMQP connection that comes back by itself. The client keeps two of them — one for
 * publishing, one for consuming — because a broker alarm blocks every connection that publishes,
 * and a blocked consumer connection could not even ack (amqplib#398).
 *
 * After a drop it reconnects with jittered exponential backoff, each attempt bounded in time, and
 * tells its users (`lost`, then `ready` with the new connection) so they can re-create channels.
 * Channels and delivery tags of the old connection are never reused.
 */
import { EventEmitter } from 'node:events';
import os from 'node:os';
import { connect, type ChannelModel } from 'amqplib';
import { backoffDelay, type Logger } from '@surge/core';
import { QueueError } from '../errors.ts';
import { brokerHost, toQueueError } from './amqp-errors.ts';

export interface ConnectionTuning {
  /** Bound of one connection attempt (TCP + AMQP handshake). */
  connectTimeoutMs: number;
  /** Backoff between reconnection attempts: full jitter between 0 and min(cap, base·2^attempt), at least `reconnectMinMs`. */
  reconnectBaseMs: number;
  reconnectCapMs: number;
  reconnectMinMs: number;
  /** AMQP heartbeat (seconds) when the URL does not set one: a dead peer is noticed within ~2 heartbeats. */
  heartbeatSeconds: number;
}

export const DEFAULT_CONNECTION_TUNING: ConnectionTuning = {
  connectTimeoutMs: 10_000,
  reconnectBaseMs: 250,
  reconnectCapMs: 5_000,
  reconnectMinMs: 100,
  heartbeatSeconds: 20,
};

export type ConnectionRole = 'publish' | 'consume';

export interface ManagedConnectionEvents {
  ready: [model: ChannelModel];
  lost: [error: QueueError];
  blocked: [reason: string];
  unblocked: [];
}

export class ManagedConnection extends EventEmitter<ManagedConnectionEvents> {
  readonly role: ConnectionRole;
  private readonly url: string;
  private readonly queue: string;
  private readonly logger: Logger;
  private readonly tuning: ConnectionTuning;
  private model: ChannelModel | undefined;
  private reconnecting: Promise<void> | undefined;
  private opening: Promise<ChannelModel> | undefined;
  private closed = false;
  private blockedReason: string | undefined;
  /** Increments on every new connection, so holders of old channels can tell they are stale. */
  generation = 0;

  constructor(role: ConnectionRole, url: string, queue: string, logger: Logger, tuning: ConnectionTuning) {
    super();
    this.role = role;
    this.url = withHeartbeat(url, tuning.heartbeatSeconds);
    this.queue = queue;
    this.logger = logger;
    this.tuning = tuning;
    this.setMaxListeners(0);
  }

  get current(): ChannelModel | undefined {
    return this.model;
  }

  get blocked(): string | undefined {
    return this.blockedReason;
  }

  get host(): string {
    return brokerHost(this.url);
  }

  /**
   * First connection: one bounded attempt; a failure is thrown, not retried (the caller decides).
   * Callers that come while it is under way share it: a lazily opened connection (the publish side
   * of a worker) can be asked for by several dead-letters at once, and must be opened once.
   */
  async open(): Promise<ChannelModel> {
    if (this.model) return this.model;
    this.opening ??= this.attempt()
      .then(async (model) => {
        if (this.closed) {
          await model.close().catch(() => undefined);
          throw new QueueError('CLOSED', 'the queue client is closed', { queue: this.queue });
        }
        this.adopt(model);
        return model;
      })
      .finally(() => (this.opening = undefined));
    return this.opening;
  }

  /**
   * The live connection, waiting up to `waitMs` while a reconnection is under way.
   * Throws UNAVAILABLE (retryable) when none comes in time, CLOSED after `close()`.
   */
  async get(waitMs: number): Promise<ChannelModel> {
    if (this.closed) throw new QueueError('CLOSED', 'the queue client is closed', { queue: this.queue });
    if (this.model) return this.model;
    if (!this.reconnecting) return this.open();
    return new Promise<ChannelModel>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('ready', onReady);
        reject(
          new QueueError('UNAVAILABLE', `no connection to RabbitMQ at ${this.host} within ${waitMs} ms (reconnecting)`, {
            queue: this.queue,
          }),
        );
      }, waitMs);
      timer.unref();
      const onReady = (model: ChannelModel) => {
        clearTimeout(timer);
        resolve(model);
      };
      this.once('ready', onReady);
    });
  }

  private async attempt(): Promise<ChannelModel> {
    try {
      return await connect(this.url, {
        timeout: this.tuning.connectTimeoutMs,
        // amqplib leaves Nagle on: with the peer's delayed ACK every small frame after a write (the
        // handshake steps, an ack, a cancel) waits ~40 ms. Surge's frames are small and latency-bound.
        noDelay: true,
        // Shown in the management UI and `rabbitmqctl list_connections`: which pod, which queue, which side.
        clientProperties: { connection_name: `surge-${this.role}:${this.queue}@${os.hostname()}` },
      });
    } catch (error) {
      throw toQueueError(error, `cannot connect to RabbitMQ at ${this.host} (${this.role})`, this.queue);
    }
  }

  private adopt(model: ChannelModel): void {
    this.model = model;
    this.generation++;
    this.blockedReason = undefined;
    model.on('error', (error: Error) => {
      // 'close' follows with the same error; this listener only keeps the error from being thrown.
      this.logger.debug({ queue: this.queue, role: this.role, err: error.message }, 'rabbitmq connection error');
    });
    model.on('blocked', (reason: string) => {
      this.blockedReason = reason || 'blocked';
      this.logger.warn(
        { queue: this.queue, role: this.role, host: this.host, reason },
        'rabbitmq blocked this connection (resource alarm): publishing pauses',
      );
      this.emit('blocked', this.blockedReason);
    });
    model.on('unblocked', () => {
      this.blockedReason = undefined;
      this.logger.info({ queue: this.queue, role: this.role, host: this.host }, 'rabbitmq unblocked this connection');
      this.emit('unblocked');
    });
    model.on('close', (error?: Error) => {
      if (this.model !== model) return;
      this.model = undefined;
      this.blockedReason = undefined;
      if (this.closed) return;
      const lost = toQueueError(
        error ?? new Error('connection closed'),
        `connection to RabbitMQ at ${this.host} lost (${this.role})`,
        this.queue,
      );
      const retryable = new QueueError('UNAVAILABLE', lost.message, { queue: this.queue, cause: lost, retryable: true });
      this.logger.warn({ queue: this.queue, role: this.role, host: this.host, code: lost.code }, 'rabbitmq connection lost; reconnecting');
      this.emit('lost', retryable);
      this.reconnecting ??= this.reconnect().finally(() => (this.reconnecting = undefined));
    });
  }

  private async reconnect(): Promise<void> {
    for (let attempt = 0; !this.closed; attempt++) {
      const delay = Math.max(this.tuning.reconnectMinMs, backoffDelay(attempt, this.tuning.reconnectBaseMs, this.tuning.reconnectCapMs));
      await new Promise<void>((resolve) => setTimeout(resolve, delay).unref());
      if (this.closed) return;
      try {
        const model = await this.attempt();
        if (this.closed) {
          await model.close().catch(() => undefined);
          return;
        }
        this.adopt(model);
        this.logger.info(
          { queue: this.queue, role: this.role, host: this.host, attempt: attempt + 1 },
          'rabbitmq connection re-established',
        );
        this.emit('ready', model);
        return;
      } catch (error) {
        this.logger.warn(
          {
            queue: this.queue,
            role: this.role,
            host: this.host,
            attempt: attempt + 1,
            code: (error as QueueError).code,
            err: (error as Error).message,
          },
          'rabbitmq reconnection attempt failed',
        );
      }
    }
  }

  /** Closes within `timeoutMs`; past that the socket is destroyed so nothing keeps the process alive. */
  async close(timeoutMs: number): Promise<void> {
    this.closed = true;
    const model = this.model;
    this.model = undefined;
    if (!model) return;
    let timer: NodeJS.Timeout | undefined;
    const graceful = model.close().then(
      () => true,
      () => false,
    );
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
      timer.unref();
    });
    const ok = await Promise.race([graceful, timedOut]);
    clearTimeout(timer);
    if (!ok) destroySocket(model);
  }
}

function destroySocket(model: ChannelModel): void {
  const stream = (model.connection as unknown as { stream?: { destroy?: () => void } }).stream;
  stream?.destroy?.();
}

function withHeartbeat(url: string, seconds: number): string {
  const parsed = new URL(url);
  if (!parsed.searchParams.has('heartbeat')) parsed.searchParams.set('heartbeat', String(seconds));
  return parsed.toString();
}
