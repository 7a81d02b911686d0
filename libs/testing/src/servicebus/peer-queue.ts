/**
 * The broker-side state of one Service Bus queue in the test peer: available messages in
 * sequence order, peek-locks with expiry, delivery counts, and a dead-letter sub-queue.
 * Transport-free: the AMQP layer (peer.ts) plugs consumers in and maps outcomes onto these calls.
 */
import { randomBytes } from 'node:crypto';
import rhea from 'rhea';
import type { Message } from 'rhea';

export interface PeerQueueSettings {
  /** How long a peek-lock lasts before the message is handed out again (Service Bus LockDuration). */
  lockDurationMs: number;
  /** Deliveries after which an abandoned or expired message is dead-lettered (Service Bus MaxDeliveryCount). */
  maxDeliveryCount: number;
}

export class StoredMessage {
  readonly sequenceNumber: number;
  readonly enqueuedAt = new Date();
  /** How many times the message has been handed out (locked) so far. */
  deliveries = 0;
  /** Kept encoded until first needed: a 100,000-message burst must not cost the test process a decoded object each. */
  private encoded: Buffer | undefined;
  private decoded: Message | undefined;

  constructor(sequenceNumber: number, message: Buffer | Message) {
    this.sequenceNumber = sequenceNumber;
    if (Buffer.isBuffer(message)) this.encoded = message;
    else this.decoded = message;
  }

  /** The bare message as the client sent it (properties, application properties, body, annotations). */
  get message(): Message {
    if (!this.decoded) {
      this.decoded = rhea.message.decode(this.encoded as Buffer) as unknown as Message;
      this.encoded = undefined;
    }
    return this.decoded;
  }

  set message(value: Message) {
    this.decoded = value;
    this.encoded = undefined;
  }
}

/** What a consumer link needs to receive messages; `credit` is read every time the queue pumps. */
export interface PeerConsumer {
  readonly credit: number;
  /** Receive-and-delete links take the message away at once: no lock. */
  readonly presettled: boolean;
  deliver(stored: StoredMessage, lock: LockInfo | undefined): void;
}

export interface LockInfo {
  /** 16 random bytes: the AMQP delivery tag and, as a GUID, the SDK's lock token. */
  readonly token: Buffer;
  readonly lockedUntil: Date;
}

interface HeldLock extends LockInfo {
  readonly stored: StoredMessage;
  lockedUntil: Date;
  timer: NodeJS.Timeout;
}

export type SettleResult = 'ok' | 'lock-lost';

export const MAX_DELIVERY_COUNT_REASON = 'MaxDeliveryCountExceeded';

export class PeerQueue {
  readonly name: string;
  readonly settings: PeerQueueSettings;
  /** Undefined for the dead-letter sub-queue itself. */
  readonly deadLetterQueue: PeerQueue | undefined;
  readonly createdAt = new Date();
  updatedAt = new Date();
  accessedAt = new Date();
  private readonly nextSequence: { value: number };
  private available: StoredMessage[] = [];
  private readonly locks = new Map<string, HeldLock>();
  private readonly consumers: PeerConsumer[] = [];
  private nextConsumer = 0;
  private pumping = false;
  private closed = false;

  constructor(name: string, settings: PeerQueueSettings, options: { deadLetter?: boolean; sequence?: { value: number } } = {}) {
    this.name = name;
    this.settings = settings;
    this.nextSequence = options.sequence ?? { value: 1 };
    // The dead-letter queue keeps the sequence numbers of the messages it receives.
    this.deadLetterQueue = options.deadLetter
      ? undefined
      : new PeerQueue(`${name}/$DeadLetterQueue`, settings, { deadLetter: true, sequence: this.nextSequence });
  }

  /** Messages waiting to be delivered plus messages under a lock (what Service Bus counts as active). */
  get activeCount(): number {
    return this.available.length + this.locks.size;
  }
  get availableCount(): number {
    return this.available.length;
  }
  get lockedCount(): number {
    return this.locks.size;
  }
  get deadLetterCount(): number {
    return this.deadLetterQueue?.activeCount ?? 0;
  }

  /** Stores a message, encoded (one data section of a batch) or already decoded. */
  enqueue(message: Buffer | Message): StoredMessage {
    const stored = new StoredMessage(this.nextSequence.value++, message);
    this.available.push(stored);
    this.updatedAt = new Date();
    this.pump();
    return stored;
  }

  attach(consumer: PeerConsumer): void {
    this.consumers.push(consumer);
    this.accessedAt = new Date();
  }

  /** A detached link's locks stay until they expire, as on Service Bus; they can still be settled through $management. */
  detach(consumer: PeerConsumer): void {
    const index = this.consumers.indexOf(consumer);
    if (index >= 0) this.consumers.splice(index, 1);
  }

  /** Hands available messages to consumers with credit, round-robin. */
  pump(): void {
    if (this.pumping || this.closed) return;
    this.pumping = true;
    try {
      while (this.available.length > 0) {
        const consumer = this.pickConsumer();
        if (!consumer) break;
        const stored = this.available.shift() as StoredMessage;
        stored.deliveries += 1;
        this.accessedAt = new Date();
        if (consumer.presettled) {
          consumer.deliver(stored, undefined);
          continue;
        }
        const lock = this.lock(stored);
        consumer.deliver(stored, lock);
      }
    } finally {
      this.pumping = false;
    }
  }

  complete(token: Buffer): SettleResult {
    const held = this.release(token);
    if (!held) return 'lock-lost';
    this.updatedAt = new Date();
    return 'ok';
  }

  /** Abandon (modified / released / update-disposition "abandoned"): redelivered, or dead-lettered past MaxDeliveryCount. */
  abandon(token: Buffer, annotations?: Record<string, unknown>): SettleResult {
    const held = this.release(token);
    if (!held) return 'lock-lost';
    if (annotations) held.stored.message.message_annotations = { ...held.stored.message.message_annotations, ...annotations };
    this.requeueOrDeadLetter(held.stored);
    return 'ok';
  }

  deadLetter(
    token: Buffer,
    reason: string | undefined,
    description: string | undefined,
    properties?: Record<string, unknown>,
  ): SettleResult {
    const held = this.release(token);
    if (!held) return 'lock-lost';
    this.moveToDeadLetter(held.stored, reason, description, properties);
    return 'ok';
  }

  renew(token: Buffer): Date | undefined {
    const held = this.locks.get(token.toString('hex'));
    if (!held) return undefined;
    clearTimeout(held.timer);
    held.lockedUntil = new Date(Date.now() + this.settings.lockDurationMs);
    held.timer = this.expiryTimer(held.token);
    return held.lockedUntil;
  }

  isLocked(token: Buffer): boolean {
    return this.locks.has(token.toString('hex'));
  }

  lockedUntil(token: Buffer): Date | undefined {
    return this.locks.get(token.toString('hex'))?.lockedUntil;
  }

  /** Active messages (available and locked) from a sequence number on, oldest first, as `peek` sees them. */
  peek(fromSequenceNumber: number, count: number): StoredMessage[] {
    const all = [...this.available, ...[...this.locks.values()].map((l) => l.stored)];
    return all
      .filter((m) => m.sequenceNumber >= fromSequenceNumber)
      .sort((a, b) => a.sequenceNumber - b.sequenceNumber)
      .slice(0, count);
  }

  /** Stops timers; called when the peer shuts down. */
  close(): void {
    this.closed = true;
    for (const held of this.locks.values()) clearTimeout(held.timer);
    this.locks.clear();
    this.deadLetterQueue?.close();
  }

  private pickConsumer(): PeerConsumer | undefined {
    for (let i = 0; i < this.consumers.length; i++) {
      const index = (this.nextConsumer + i) % this.consumers.length;
      const consumer = this.consumers[index] as PeerConsumer;
      if (consumer.credit > 0) {
        this.nextConsumer = (index + 1) % this.consumers.length;
        return consumer;
      }
    }
    return undefined;
  }

  private lock(stored: StoredMessage): LockInfo {
    const token = randomBytes(16);
    const held: HeldLock = {
      token,
      stored,
      lockedUntil: new Date(Date.now() + this.settings.lockDurationMs),
      timer: this.expiryTimer(token),
    };
    this.locks.set(token.toString('hex'), held);
    return held;
  }

  private expiryTimer(token: Buffer): NodeJS.Timeout {
    const timer = setTimeout(() => this.expire(token), this.settings.lockDurationMs);
    // The peer must never keep a test process alive on its own.
    timer.unref();
    return timer;
  }

  private expire(token: Buffer): void {
    const key = token.toString('hex');
    const held = this.locks.get(key);
    if (!held) return;
    this.locks.delete(key);
    this.requeueOrDeadLetter(held.stored);
  }

  private release(token: Buffer): HeldLock | undefined {
    const key = token.toString('hex');
    const held = this.locks.get(key);
    if (!held) return undefined;
    clearTimeout(held.timer);
    this.locks.delete(key);
    return held;
  }

  private requeueOrDeadLetter(stored: StoredMessage): void {
    if (this.deadLetterQueue && stored.deliveries >= this.settings.maxDeliveryCount) {
      this.moveToDeadLetter(
        stored,
        MAX_DELIVERY_COUNT_REASON,
        `Message could not be consumed after ${stored.deliveries} delivery attempts.`,
      );
      return;
    }
    // Back in sequence order: Service Bus hands the oldest available message out first.
    const at = this.available.findIndex((m) => m.sequenceNumber > stored.sequenceNumber);
    if (at < 0) this.available.push(stored);
    else this.available.splice(at, 0, stored);
    this.updatedAt = new Date();
    this.pump();
  }

  private moveToDeadLetter(
    stored: StoredMessage,
    reason: string | undefined,
    description: string | undefined,
    properties?: Record<string, unknown>,
  ): void {
    const dlq = this.deadLetterQueue;
    if (!dlq) {
      // Dead-lettering from the dead-letter queue is not modelled: the message goes back.
      this.requeueOrDeadLetter(stored);
      return;
    }
    const applicationProperties: Record<string, unknown> = { ...stored.message.application_properties, ...properties };
    if (reason !== undefined) applicationProperties['DeadLetterReason'] = reason;
    if (description !== undefined) applicationProperties['DeadLetterErrorDescription'] = description;
    stored.message = {
      ...stored.message,
      application_properties: applicationProperties,
      message_annotations: { ...stored.message.message_annotations, 'x-opt-deadletter-source': this.name },
    } as Message;
    dlq.available.push(stored);
    dlq.available.sort((a, b) => a.sequenceNumber - b.sequenceNumber);
    this.updatedAt = new Date();
    dlq.pump();
  }
}
