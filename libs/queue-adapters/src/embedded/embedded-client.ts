/**
 * The embedded backend: a durable queue with no server, shared by every process on the machine that
 * opens the same folder. It is the default backend, so `npm run demo` needs nothing but Node.
 *
 * At-least-once: a delivery is a renewable lease. This process renews the leases it holds (up to
 * `maxProcessingMs`); if it dies, the leases run out and the messages are handed out again.
 */
import { randomUUID } from 'node:crypto';
import { ensureDirectory, silentLogger, type Logger } from '@surge/core';
import type { EmbeddedQueueConfig } from '../config.ts';
import { QueueError, isQueueError } from '../errors.ts';
import { ConsumerLoop } from '../consumer-loop.ts';
import {
  DeadLetterReasons,
  type Consumer,
  type ConsumeOptions,
  type DeadLetter,
  type Delivery,
  type DeliveryHandler,
  type OutgoingMessage,
  type QueueClient,
  type QueueDepth,
  type AdapterOptions,
} from '../types.ts';
import { EmbeddedStore, isDamage, type SettleOp, type StoredMessage } from './store.ts';

const IDLE_POLL_MIN_MS = 2;
const IDLE_POLL_MAX_MS = 50;
const LEASE_BATCH_MAX = 256;

interface HeldLease {
  seq: number;
  leaseToken: string;
  /** Renewals stop here: the longest any handler may hold a message. */
  renewUntil: number;
}

export class EmbeddedQueueClient implements QueueClient {
  readonly kind = 'embedded' as const;
  readonly queue: string;
  private readonly store: EmbeddedStore;
  private readonly config: EmbeddedQueueConfig;
  private readonly logger: Logger;
  private readonly tokenPrefix = randomUUID();
  private readonly held = new Map<string, HeldLease>();
  private readonly renewTimer: NodeJS.Timeout;
  private readonly wakeups = new Set<() => void>();
  private pending: { op: SettleOp; resolve: (held: boolean) => void; reject: (error: unknown) => void }[] = [];
  private flushScheduled = false;
  private closed = false;

  private constructor(config: EmbeddedQueueConfig, logger: Logger) {
    this.config = config;
    this.queue = config.queue;
    this.logger = logger;
    this.store = new EmbeddedStore(config.dir, config.queue);
    this.renewTimer = setInterval(() => this.renewLeases(), Math.max(50, Math.floor(config.leaseMs / 3)));
    this.renewTimer.unref();
  }

  /** A folder that cannot be used is a ConfigError naming EMBEDDED_QUEUE_DIR; a damaged file a non-retryable QueueError. */
  static async open(config: EmbeddedQueueConfig, options: AdapterOptions = {}): Promise<EmbeddedQueueClient> {
    await ensureDirectory(config.dir, { variable: 'EMBEDDED_QUEUE_DIR' });
    try {
      return new EmbeddedQueueClient(config, options.logger ?? silentLogger);
    } catch (cause) {
      if (isDamage(cause)) throw storeError(cause, config.queue, `cannot open the embedded queue ${config.queue} in ${config.dir}`);
      throw new QueueError('UNAVAILABLE', `cannot open the embedded queue ${config.queue} in ${config.dir}: ${(cause as Error).message}`, {
        queue: config.queue,
        cause,
        retryable: false,
      });
    }
  }

  async send(messages: readonly OutgoingMessage[]): Promise<void> {
    this.assertOpen();
    if (messages.length === 0) return;
    try {
      this.store.append(
        messages.map((m) => ({ id: m.id, body: m.body, properties: JSON.stringify(m.properties ?? {}) })),
        Date.now(),
      );
    } catch (cause) {
      throw storeError(cause, this.queue, 'embedded queue write failed');
    }
    for (const wake of this.wakeups) wake();
  }

  async receive(max: number, waitMs: number): Promise<Delivery[]> {
    this.assertOpen();
    const deadline = Date.now() + waitMs;
    let delay = IDLE_POLL_MIN_MS;
    for (;;) {
      const batch = this.leaseBatch(max);
      if (batch.length > 0 || Date.now() >= deadline || this.closed) return batch;
      await this.idle(Math.min(delay, deadline - Date.now()));
      delay = Math.min(delay * 2, IDLE_POLL_MAX_MS);
    }
  }

  async consume(handler: DeliveryHandler, options: ConsumeOptions): Promise<Consumer> {
    this.assertOpen();
    let delay = IDLE_POLL_MIN_MS;
    return ConsumerLoop.start({
      concurrency: options.concurrency,
      handler,
      logger: this.logger,
      onGiveUp: options.onGiveUp,
      fetch: async (free, signal) => {
        for (;;) {
          if (signal.aborted || this.closed) return [];
          const batch = this.leaseBatch(Math.min(free, LEASE_BATCH_MAX));
          if (batch.length > 0) {
            delay = IDLE_POLL_MIN_MS;
            return batch;
          }
          await this.idle(delay, signal);
          delay = Math.min(delay * 2, IDLE_POLL_MAX_MS);
        }
      },
    });
  }

  async depth(): Promise<QueueDepth> {
    this.assertOpen();
    try {
      return this.store.depth(Date.now());
    } catch (cause) {
      throw storeError(cause, this.queue, 'reading the embedded queue depth failed');
    }
  }

  async peekDeadLetters(max: number): Promise<DeadLetter[]> {
    this.assertOpen();
    return this.store.peekDeadLetters(max).map((row) => ({
      id: row.id,
      body: Buffer.from(row.body),
      properties: JSON.parse(row.properties) as Record<string, string>,
      reason: row.reason,
      description: row.description ?? undefined,
    }));
  }

  async ping(): Promise<void> {
    this.assertOpen();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.renewTimer);
    for (const wake of this.wakeups) wake();
    // Held leases go back at once rather than after the lease time: another process can take them now.
    for (const lease of this.held.values())
      this.pending.push({ op: { kind: 'release', seq: lease.seq, leaseToken: lease.leaseToken }, resolve: () => {}, reject: () => {} });
    this.held.clear();
    this.flush();
    this.store.close();
  }

  private leaseBatch(max: number): Delivery[] {
    const now = Date.now();
    let rows: StoredMessage[];
    try {
      rows = this.store.leaseBatch(max, this.config.leaseMs, this.config.maxDeliveries, this.tokenPrefix, now);
    } catch (cause) {
      throw storeError(cause, this.queue, 'receiving from the embedded queue failed');
    }
    return rows.map((row) => {
      this.held.set(row.leaseToken, { seq: row.seq, leaseToken: row.leaseToken, renewUntil: now + this.config.maxProcessingMs });
      return new EmbeddedDelivery(this, row, this.config);
    });
  }

  /** Settlements are grouped into one transaction per tick: one commit for many acks. */
  settle(op: SettleOp): Promise<boolean> {
    if (this.closed)
      return Promise.reject(
        new QueueError('CLOSED', 'the queue client is closed; the delivery returns to the queue', { queue: this.queue }),
      );
    if (op.kind !== 'renew') this.held.delete(op.leaseToken);
    return new Promise((resolve, reject) => {
      this.pending.push({ op, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    try {
      const results = this.store.settleMany(
        batch.map((b) => b.op),
        Date.now(),
      );
      batch.forEach((b, i) => b.resolve(results[i] ?? false));
      if (batch.some((b) => b.op.kind === 'release')) for (const wake of this.wakeups) wake();
    } catch (cause) {
      const error = storeError(cause, this.queue, 'embedded queue write failed');
      for (const b of batch) b.reject(error);
    }
  }

  private renewLeases(): void {
    const now = Date.now();
    for (const lease of this.held.values()) {
      if (now >= lease.renewUntil) {
        this.held.delete(lease.leaseToken);
        this.logger.warn(
          { queue: this.queue },
          'a delivery outlived maxProcessingMs; its lease is no longer renewed and it will be redelivered',
        );
        continue;
      }
      void this.settle({ kind: 'renew', seq: lease.seq, leaseToken: lease.leaseToken, visibleUntil: now + this.config.leaseMs }).catch(
        () => {},
      );
    }
  }

  private idle(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wakeups.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.wakeups.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  private assertOpen(): void {
    if (this.closed) throw new QueueError('CLOSED', 'the queue client is closed', { queue: this.queue });
  }
}

/**
 * A damaged file (SQLite reports corruption, or it lost its contents) fails every later call the
 * same way: not retryable, so a worker stops instead of retrying for ever. Anything else (a busy
 * timeout, a full disk, an I/O error) may pass.
 */
function storeError(cause: unknown, queue: string, what: string): QueueError {
  if (isQueueError(cause)) return cause;
  if (isDamage(cause))
    return new QueueError('INTERNAL', `${what}: the queue file is damaged: ${(cause as Error).message}`, {
      queue,
      cause,
      retryable: false,
    });
  return new QueueError('UNAVAILABLE', `${what}: ${(cause as Error).message}`, { queue, cause });
}

class EmbeddedDelivery implements Delivery {
  readonly id: string;
  readonly queue: string;
  readonly body: Buffer;
  readonly properties: Readonly<Record<string, string>>;
  readonly deliveryCount: number;
  readonly enqueuedAt: Date;
  private settled = false;
  private readonly client: EmbeddedQueueClient;
  private readonly row: StoredMessage;
  private readonly maxDeliveries: number;

  constructor(client: EmbeddedQueueClient, row: StoredMessage, config: EmbeddedQueueConfig) {
    this.client = client;
    this.row = row;
    this.maxDeliveries = config.maxDeliveries;
    this.id = row.id;
    this.queue = config.queue;
    this.body = Buffer.from(row.body);
    this.properties = JSON.parse(row.properties) as Record<string, string>;
    this.deliveryCount = row.deliveryCount;
    this.enqueuedAt = new Date(row.enqueuedAt);
  }

  complete(): Promise<void> {
    return this.apply({ kind: 'complete', seq: this.row.seq, leaseToken: this.row.leaseToken });
  }

  abandon(): Promise<void> {
    if (this.deliveryCount >= this.maxDeliveries) {
      return this.apply({
        kind: 'dead-letter',
        seq: this.row.seq,
        leaseToken: this.row.leaseToken,
        reason: DeadLetterReasons.MAX_DELIVERIES,
        description: `abandoned on delivery ${this.deliveryCount} of ${this.maxDeliveries}`,
      });
    }
    return this.apply({ kind: 'release', seq: this.row.seq, leaseToken: this.row.leaseToken });
  }

  deadLetter(reason: string, description?: string): Promise<void> {
    return this.apply({ kind: 'dead-letter', seq: this.row.seq, leaseToken: this.row.leaseToken, reason, description });
  }

  private async apply(op: SettleOp): Promise<void> {
    if (this.settled) throw new QueueError('ALREADY_SETTLED', `message ${this.id} was already settled`, { queue: this.queue });
    this.settled = true;
    const held = await this.client.settle(op);
    if (!held)
      throw new QueueError('DELIVERY_LOST', `the lease on message ${this.id} expired and it was handed to another consumer`, {
        queue: this.queue,
      });
  }

  /** For the consumer loop: abandon if the handler returned without settling. */
  get isSettled(): boolean {
    return this.settled;
  }
}
