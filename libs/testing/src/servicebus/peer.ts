/**
 * A Service Bus protocol peer for tests: an AMQP 1.0 server on `rhea` that the unmodified
 * `@azure/service-bus` SDK talks to, plus the ATOM queue request of `ServiceBusAdministrationClient`
 * served as plain HTTP on the same port. It models what Surge's adapter uses and nothing more;
 * README.md beside this file lists exactly which SDK calls are covered and what is not modelled.
 */
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import type net from 'node:net';
import { fileURLToPath } from 'node:url';
import rhea from 'rhea';
import type { Connection, Container, Delivery, EventContext, Message, Receiver, Sender } from 'rhea';
import { handleAtomRequest } from './atom.ts';
import {
  PeerQueue,
  type LockInfo,
  type PeerConsumer,
  type PeerQueueSettings,
  type SettleResult,
  type StoredMessage,
} from './peer-queue.ts';

/** `message_format` of a batch built by `createMessageBatch`: one transfer whose data sections are whole messages. */
export const BATCH_MESSAGE_FORMAT = 0x80013700;
const DEAD_LETTER_CONDITION = 'com.microsoft:dead-letter';
const LOCK_LOST_CONDITION = 'com.microsoft:message-lock-lost';
const LOCK_LOST_DESCRIPTION =
  'The lock supplied is invalid. Either the lock expired, or the message has already been removed from the queue.';
const DEAD_LETTER_SUFFIX = '/$deadletterqueue';
const MANAGEMENT_SUFFIX = '/$management';

export interface ServiceBusPeerOptions {
  /** Lock duration of queues created on first use (default 30 s, as Service Bus' default is 1 min: tests want it short). */
  lockDurationMs?: number;
  /** MaxDeliveryCount of queues created on first use (default 10, the Service Bus default). */
  maxDeliveryCount?: number;
  /** Per-queue settings; a queue listed here is created with them on first use. */
  queues?: Readonly<Record<string, Partial<PeerQueueSettings>>>;
  /** When false, only queues listed in `queues` exist; others answer `amqp:not-found` (default true). */
  autoCreateQueues?: boolean;
  /** Advertised on send links (default 262144, Service Bus standard tier). */
  maxMessageSize?: number;
  /** Decides whether a CBS token (or an ATOM request) is accepted; default accepts everything. */
  authorize?: (audience: string) => boolean;
}

export interface ServiceBusPeer {
  /** `Endpoint=sb://127.0.0.1:<port>;SharedAccessKeyName=…;SharedAccessKey=…;UseDevelopmentEmulator=true` */
  readonly connectionString: string;
  readonly host: string;
  readonly port: number;
  /** The queue's broker-side state (created on first use, like a client's first attach). */
  queue(name: string): PeerQueue;
  /** Every queue created so far. */
  queues(): PeerQueue[];
  /** Open AMQP connections from clients. */
  readonly connectionCount: number;
  /** Cuts every client socket at once, as a network failure would. */
  dropConnections(): void;
  /** Stops reading from every client socket (and new ones): the broker hangs without closing anything. */
  freeze(): void;
  /** How often each operation was served: `put-token`, `com.microsoft:*` on $management, `link:<outcome>`, `send`, `atom:GET`. */
  operationCounts(): Record<string, number>;
  close(): Promise<void>;
}

/** Any key name and key work: the peer accepts every CBS token (unless `authorize` says otherwise). */
function peerConnectionString(port: number): string {
  return `Endpoint=sb://127.0.0.1:${port};SharedAccessKeyName=peer;SharedAccessKey=cGVlcg==;UseDevelopmentEmulator=true`;
}

type LinkRole =
  | { kind: 'cbs' }
  | { kind: 'management'; queue: PeerQueue }
  | { kind: 'entity-in'; queue: PeerQueue }
  | { kind: 'entity-out'; queue: PeerQueue; consumer: LinkConsumer }
  | { kind: 'reply' };

interface ConnectionState {
  /** Reply senders by link name and by target address: requests name one of these in `reply_to`. */
  readonly replyLinks: Map<string, Sender>;
  readonly consumers: Set<LinkConsumer>;
}

interface ManagementReply {
  status: number;
  description?: string;
  condition?: string;
  body?: unknown;
}

/** rhea builds outcomes at run time; its typings leave these constructors out. */
interface Outcome {
  described(): unknown;
}
const outcomes = rhea.message as unknown as {
  accepted(): Outcome;
  rejected(fields: { error?: { condition: string; description?: string } }): Outcome;
  released(): Outcome;
  modified(fields: { delivery_failed?: boolean; undeliverable_here?: boolean; message_annotations?: Record<string, unknown> }): Outcome;
};

/** rhea's outgoing-delivery bookkeeping, read to count transfers queued but not yet written. */
interface SessionInternals {
  outgoing: { next_pending_delivery: number };
}

/** One receive link of a client, seen from the queue. */
class LinkConsumer implements PeerConsumer {
  readonly sender: Sender;
  readonly queue: PeerQueue;
  readonly deliveries = new Map<string, Delivery>();
  private readonly pendingIds: number[] = [];

  constructor(sender: Sender, queue: PeerQueue) {
    this.sender = sender;
    this.queue = queue;
  }

  get presettled(): boolean {
    return this.sender.snd_settle_mode === 1;
  }

  /**
   * rhea lowers `credit` only when a transfer is written (on the next tick), so deliveries handed to
   * `send` in the same tick are subtracted here; otherwise the queue would lock more than the client asked for.
   */
  get credit(): number {
    if (!this.sender.is_open()) return 0;
    const { outgoing } = this.sender.session as unknown as SessionInternals;
    while (this.pendingIds.length > 0 && (this.pendingIds[0] as number) < outgoing.next_pending_delivery) this.pendingIds.shift();
    return (this.sender as unknown as { credit: number }).credit - this.pendingIds.length;
  }

  deliver(stored: StoredMessage, lock: LockInfo | undefined): void {
    const message = wireMessage(stored, lock);
    const delivery = this.sender.send(message, lock?.token ?? randomBytes(16));
    this.pendingIds.push(delivery.id);
    if (lock) this.deliveries.set(lock.token.toString('hex'), delivery);
  }
}

/** The message as the SDK receives it: header delivery count (prior deliveries) and the broker annotations it reads. */
function wireMessage(stored: StoredMessage, lock: LockInfo | undefined): Message {
  const annotations: Record<string, unknown> = {
    ...stored.message.message_annotations,
    'x-opt-sequence-number': rhea.types.wrap_long(stored.sequenceNumber),
    'x-opt-enqueued-time': stored.enqueuedAt,
  };
  if (lock) annotations['x-opt-locked-until'] = lock.lockedUntil;
  return { ...stored.message, delivery_count: Math.max(0, stored.deliveries - 1), message_annotations: annotations } as Message;
}

function peekedMessage(stored: StoredMessage): Buffer {
  return rhea.message.encode({
    ...stored.message,
    delivery_count: stored.deliveries,
    message_annotations: {
      ...stored.message.message_annotations,
      'x-opt-sequence-number': rhea.types.wrap_long(stored.sequenceNumber),
      'x-opt-enqueued-time': stored.enqueuedAt,
    },
  });
}

function toNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (Buffer.isBuffer(value) && value.length === 8) return Number(value.readBigInt64BE(0));
  return Number(value);
}

/**
 * The SDK turns a delivery tag into a lock token with .NET GUID byte order (first three groups
 * byte-swapped) and sends that token back as an AMQP uuid; swapping again gives the tag.
 */
function guidOrderSwap(bytes: Buffer): Buffer {
  return Buffer.from([bytes[3], bytes[2], bytes[1], bytes[0], bytes[5], bytes[4], bytes[7], bytes[6], ...bytes.subarray(8)] as number[]);
}

/** Lock tokens of a $management request, as the delivery tags the queue knows them by. */
function lockTokens(queue: PeerQueue, body: Record<string, unknown>): Buffer[] {
  const raw = body['lock-tokens'];
  const list = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
  return list
    .filter((t): t is Buffer => Buffer.isBuffer(t) && t.length === 16)
    .map((uuid) => {
      const swapped = guidOrderSwap(uuid);
      return queue.isLocked(swapped) || !queue.isLocked(uuid) ? swapped : uuid;
    });
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

class Peer implements ServiceBusPeer {
  readonly host = '127.0.0.1';
  port = 0;
  private readonly options: ServiceBusPeerOptions;
  private readonly container: Container;
  private readonly queuesByName = new Map<string, PeerQueue>();
  private readonly roles = new WeakMap<object, LinkRole>();
  private readonly connections = new Map<Connection, ConnectionState>();
  private readonly sockets = new Set<net.Socket>();
  private readonly counts = new Map<string, number>();
  private frozen = false;
  private server: net.Server | undefined;
  private readonly httpServer: http.Server;

  constructor(options: ServiceBusPeerOptions) {
    this.options = options;
    // Outcomes are applied by hand: accepted only after the message is stored; modified is not released.
    this.container = rhea.create_container({
      id: `surge-servicebus-peer-${randomUUID()}`,
      autoaccept: false,
      treat_modified_as_released: false,
    } as never);
    this.httpServer = http.createServer((req, res) => {
      this.count(`atom:${req.method ?? ''}`);
      handleAtomRequest(
        req,
        res,
        (name) => this.findQueue(name),
        () => this.authorized('atom'),
      );
    });
    this.wire();
  }

  get connectionString(): string {
    return peerConnectionString(this.port);
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  async start(): Promise<void> {
    const server = this.container.listen({ port: 0, host: this.host }) as unknown as net.Server;
    this.server = server;
    // AMQP and HTTP share the port the connection string names (the administration client derives its
    // URL from the same Endpoint): the first byte tells them apart ("AMQP…" header vs an HTTP method).
    const amqpListeners = server.listeners('connection') as ((socket: net.Socket) => void)[];
    server.removeAllListeners('connection');
    server.on('connection', (socket: net.Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      socket.once('data', (chunk: Buffer) => {
        socket.pause();
        socket.unshift(chunk);
        if (chunk[0] === 0x41) for (const listener of amqpListeners) listener.call(server, socket);
        else this.httpServer.emit('connection', socket);
        if (this.frozen) socket.pause();
        else socket.resume();
      });
    });
    await new Promise<void>((resolve, reject) => {
      if (server.listening) return resolve();
      server.once('listening', resolve);
      server.once('error', reject);
    });
    this.port = (server.address() as net.AddressInfo).port;
  }

  queue(name: string): PeerQueue {
    const queue = this.findQueue(name, true);
    if (!queue) throw new Error(`queue ${name} does not exist on the peer`);
    return queue;
  }

  queues(): PeerQueue[] {
    return [...this.queuesByName.values()];
  }

  dropConnections(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  freeze(): void {
    this.frozen = true;
    for (const socket of this.sockets) socket.pause();
  }

  operationCounts(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }

  private count(operation: string): void {
    this.counts.set(operation, (this.counts.get(operation) ?? 0) + 1);
  }

  async close(): Promise<void> {
    for (const connection of this.connections.keys()) {
      try {
        connection.close();
      } catch {
        // already closing
      }
    }
    // Give clients a moment to see the close frame, then cut whatever is left.
    await new Promise((resolve) => setTimeout(resolve, 50).unref());
    for (const socket of this.sockets) socket.destroy();
    this.httpServer.close();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    for (const queue of this.queuesByName.values()) queue.close();
  }

  private authorized(audience: string): boolean {
    return this.options.authorize ? this.options.authorize(audience) : true;
  }

  /** Queue names are case-insensitive on Service Bus; `<q>/$DeadLetterQueue` resolves to the sub-queue. */
  private findQueue(address: string, create = this.options.autoCreateQueues !== false): PeerQueue | undefined {
    let name = address.replace(/^[a-z]+:\/\/[^/]+\//i, '');
    let deadLetter = false;
    if (name.toLowerCase().endsWith(DEAD_LETTER_SUFFIX)) {
      deadLetter = true;
      name = name.slice(0, -DEAD_LETTER_SUFFIX.length);
    }
    if (!name || name.includes('/') || name.startsWith('$')) return undefined;
    const key = name.toLowerCase();
    let queue = this.queuesByName.get(key);
    if (!queue) {
      const declared = Object.entries(this.options.queues ?? {}).find(([n]) => n.toLowerCase() === key)?.[1];
      if (!declared && !create) return undefined;
      queue = new PeerQueue(name, {
        lockDurationMs: declared?.lockDurationMs ?? this.options.lockDurationMs ?? 30_000,
        maxDeliveryCount: declared?.maxDeliveryCount ?? this.options.maxDeliveryCount ?? 10,
      });
      this.queuesByName.set(key, queue);
    }
    return deadLetter ? queue.deadLetterQueue : queue;
  }

  private state(connection: Connection): ConnectionState {
    let state = this.connections.get(connection);
    if (!state) {
      state = { replyLinks: new Map(), consumers: new Set() };
      this.connections.set(connection, state);
    }
    return state;
  }

  private wire(): void {
    const c = this.container;
    c.on('connection_open', (ctx: EventContext) => void this.state(ctx.connection));
    const forget = (ctx: EventContext): void => {
      const state = this.connections.get(ctx.connection);
      if (!state) return;
      for (const consumer of state.consumers) consumer.queue.detach(consumer);
      this.connections.delete(ctx.connection);
    };
    c.on('connection_close', forget);
    c.on('disconnected', forget);
    // A client that vanishes must not crash the peer.
    c.on('error', () => undefined);
    c.on('connection_error', () => undefined);

    c.on('receiver_open', (ctx: EventContext) => this.onReceiverOpen(ctx.receiver as Receiver, ctx.connection));
    c.on('sender_open', (ctx: EventContext) => this.onSenderOpen(ctx.sender as Sender, ctx.connection));
    const linkClosed = (ctx: EventContext): void => {
      const role = this.roles.get(ctx.sender ?? ctx.receiver ?? {});
      if (role?.kind === 'entity-out') {
        role.queue.detach(role.consumer);
        this.connections.get(ctx.connection)?.consumers.delete(role.consumer);
      }
      ctx.sender?.close();
      ctx.receiver?.close();
    };
    c.on('sender_close', linkClosed);
    c.on('receiver_close', linkClosed);
    c.on('message', (ctx: EventContext) => this.onMessage(ctx));

    const pump = (ctx: EventContext): void => {
      const role = this.roles.get(ctx.sender ?? {});
      if (role?.kind === 'entity-out') role.queue.pump();
    };
    c.on('sendable', pump);
    c.on('sender_flow', pump);
    c.on('sender_draining', (ctx: EventContext) => {
      pump(ctx);
      // Nothing more to give: hand back the rest of the credit so a timed-out receiveMessages returns.
      (ctx.sender as Sender).set_drained(true);
    });
    c.on('accepted', (ctx: EventContext) => this.onOutcome(ctx, 'accepted'));
    c.on('released', (ctx: EventContext) => this.onOutcome(ctx, 'released'));
    c.on('modified', (ctx: EventContext) => this.onOutcome(ctx, 'modified'));
    c.on('rejected', (ctx: EventContext) => this.onOutcome(ctx, 'rejected'));
  }

  private refuse(link: Sender | Receiver, address: string): void {
    link.close({ condition: 'amqp:not-found', description: `The messaging entity '${address}' could not be found (surge peer).` });
  }

  /** The client opened a sender: we receive on $cbs, on $management, or into a queue. */
  private onReceiverOpen(receiver: Receiver, connection: Connection): void {
    const address = String(receiver.target?.address ?? '');
    receiver.set_source(receiver.source ?? {});
    receiver.set_target({ address });
    if (address === '$cbs') {
      this.roles.set(receiver, { kind: 'cbs' });
    } else if (address.toLowerCase().endsWith(MANAGEMENT_SUFFIX)) {
      const queue = this.findQueue(address.slice(0, -MANAGEMENT_SUFFIX.length));
      if (!queue) return this.refuse(receiver, address);
      this.roles.set(receiver, { kind: 'management', queue });
    } else {
      const queue = this.findQueue(address);
      if (!queue || queue.deadLetterQueue === undefined) return this.refuse(receiver, address);
      // Without max_message_size the SDK sizes batches at 0 bytes.
      (receiver as unknown as { local: { attach: { max_message_size: number } } }).local.attach.max_message_size =
        this.options.maxMessageSize ?? 262_144;
      this.roles.set(receiver, { kind: 'entity-in', queue });
    }
    void this.state(connection);
  }

  /** The client opened a receiver: a reply link for $cbs/$management requests, or a queue consumer. */
  private onSenderOpen(sender: Sender, connection: Connection): void {
    const address = String(sender.source?.address ?? '');
    const state = this.state(connection);
    const local = (sender as unknown as { local: { attach: { snd_settle_mode: number; rcv_settle_mode: number } } }).local.attach;
    sender.set_source({ address });
    sender.set_target(sender.target ?? {});
    if (address === '$cbs' || address.toLowerCase().endsWith(MANAGEMENT_SUFFIX)) {
      this.roles.set(sender, { kind: 'reply' });
      state.replyLinks.set(sender.name, sender);
      const target = sender.target?.address;
      if (target) state.replyLinks.set(String(target), sender);
      return;
    }
    const queue = this.findQueue(address);
    if (!queue) return this.refuse(sender, address);
    local.snd_settle_mode = sender.snd_settle_mode;
    local.rcv_settle_mode = sender.rcv_settle_mode;
    const consumer = new LinkConsumer(sender, queue);
    this.roles.set(sender, { kind: 'entity-out', queue, consumer });
    state.consumers.add(consumer);
    queue.attach(consumer);
  }

  private onMessage(ctx: EventContext): void {
    const receiver = ctx.receiver as Receiver;
    const delivery = ctx.delivery as Delivery;
    const role = this.roles.get(receiver);
    if (!role) {
      delivery.reject({ condition: 'amqp:not-implemented', description: 'link not modelled by the surge peer' });
      return;
    }
    if (role.kind === 'entity-in') {
      const raw = ctx.message as unknown;
      const format = (ctx as unknown as { format?: number }).format;
      const messages: (Buffer | Message)[] = format === BATCH_MESSAGE_FORMAT ? unbatch(raw as Buffer) : format ? [] : [raw as Message];
      if (messages.length === 0) {
        delivery.reject({ condition: 'amqp:not-implemented', description: `message format ${String(format)} not modelled` });
        return;
      }
      for (const message of messages) role.queue.enqueue(message);
      this.count(format === BATCH_MESSAGE_FORMAT ? 'send:batch' : 'send');
      delivery.accept();
      return;
    }
    delivery.accept();
    const request = ctx.message as Message;
    const replyTo = String(request.reply_to ?? '');
    const reply = (properties: Record<string, unknown>, body?: unknown): void => {
      const link = this.connections.get(ctx.connection)?.replyLinks.get(replyTo);
      link?.send({ to: replyTo, correlation_id: request.message_id, application_properties: properties, body } as Message);
    };
    if (role.kind === 'cbs') {
      const audience = String(request.application_properties?.['name'] ?? '');
      const ok = request.application_properties?.['operation'] === 'put-token' && this.authorized(audience);
      this.count('put-token');
      reply(
        ok
          ? { 'status-code': 202, 'status-description': 'Accepted' }
          : { 'status-code': 401, 'status-description': 'Unauthorized (surge peer)' },
      );
      return;
    }
    if (role.kind === 'management') {
      const result = this.manage(
        role.queue,
        String(request.application_properties?.['operation'] ?? ''),
        (request.body ?? {}) as Record<string, unknown>,
      );
      const properties: Record<string, unknown> = { statusCode: result.status, statusDescription: result.description ?? '' };
      if (result.condition) properties['error-condition'] = result.condition;
      reply(properties, result.body);
    }
  }

  /** `$management` operations; others answer 501 so an unexpected SDK call fails loudly in a test. */
  private manage(queue: PeerQueue, operation: string, body: Record<string, unknown>): ManagementReply {
    this.count(operation);
    const lockLost: ManagementReply = { status: 410, condition: LOCK_LOST_CONDITION, description: LOCK_LOST_DESCRIPTION };
    switch (operation) {
      case 'com.microsoft:renew-lock': {
        const expirations: Date[] = [];
        for (const token of lockTokens(queue, body)) {
          const until = queue.renew(token);
          if (!until) return lockLost;
          expirations.push(until);
        }
        return { status: 200, body: { expirations } };
      }
      case 'com.microsoft:update-disposition': {
        const status = String(body['disposition-status'] ?? '');
        for (const token of lockTokens(queue, body)) {
          let result: SettleResult;
          if (status === 'completed') result = queue.complete(token);
          else if (status === 'abandoned')
            result = queue.abandon(token, body['properties-to-modify'] as Record<string, unknown> | undefined);
          else if (status === 'suspended') {
            result = queue.deadLetter(
              token,
              stringOrUndefined(body['deadletter-reason']),
              stringOrUndefined(body['deadletter-description']),
              body['properties-to-modify'] as Record<string, unknown> | undefined,
            );
          } else
            return { status: 501, condition: 'amqp:not-implemented', description: `disposition ${status} not modelled by the surge peer` };
          if (result === 'lock-lost') return lockLost;
          this.settleLinkDelivery(token, status === 'completed' ? outcomes.accepted() : outcomes.modified({}));
        }
        return { status: 200 };
      }
      case 'com.microsoft:peek-message': {
        const from = toNumber(body['from-sequence-number'] ?? 1);
        const count = toNumber(body['message-count'] ?? 1);
        const found = queue.peek(from, count);
        if (found.length === 0) return { status: 204, description: 'No messages' };
        return { status: 200, body: { messages: found.map((m) => ({ message: peekedMessage(m) })) } };
      }
      default:
        return { status: 501, condition: 'amqp:not-implemented', description: `operation ${operation} not modelled by the surge peer` };
    }
  }

  /** A lock settled through $management still has an unsettled transfer on its receive link: close it out. */
  private settleLinkDelivery(token: Buffer, outcome: Outcome): void {
    const key = token.toString('hex');
    for (const state of this.connections.values()) {
      for (const consumer of state.consumers) {
        const delivery = consumer.deliveries.get(key);
        if (!delivery) continue;
        consumer.deliveries.delete(key);
        if (!delivery.remote_settled) settleFinally(delivery, outcome);
        return;
      }
    }
  }

  /** Outcome of a peek-locked transfer, sent on the receive link (`rcv_settle_mode` second: we settle, then the client). */
  private onOutcome(ctx: EventContext, kind: 'accepted' | 'released' | 'modified' | 'rejected'): void {
    const sender = ctx.sender as Sender;
    const delivery = ctx.delivery as Delivery;
    const role = this.roles.get(sender);
    if (role?.kind !== 'entity-out' || delivery.settled) return;
    const token = Buffer.from(delivery.tag as Buffer);
    this.count(`link:${kind}`);
    role.consumer.deliveries.delete(token.toString('hex'));
    const state = delivery.remote_state as
      | {
          error?: { condition?: string; description?: string; info?: Record<string, unknown> };
          message_annotations?: Record<string, unknown>;
          undeliverable_here?: boolean;
        }
      | undefined;
    let result: SettleResult;
    switch (kind) {
      case 'accepted':
        result = role.queue.complete(token);
        break;
      case 'released':
        result = role.queue.abandon(token);
        break;
      case 'modified':
        // `undeliverable_here` is how the SDK defers a message; deferral is not modelled, so it is an abandon.
        result = role.queue.abandon(token, state?.message_annotations);
        break;
      case 'rejected': {
        const error = state?.error;
        const { DeadLetterReason, DeadLetterErrorDescription, ...rest } = error?.info ?? {};
        const reason = error?.condition === DEAD_LETTER_CONDITION ? stringOrUndefined(DeadLetterReason) : (error?.condition ?? 'Rejected');
        const description = error?.condition === DEAD_LETTER_CONDITION ? stringOrUndefined(DeadLetterErrorDescription) : error?.description;
        result = role.queue.deadLetter(token, reason, description, rest);
        break;
      }
    }
    if (result === 'ok') {
      // Echo the outcome, settled; a rejected outcome carries no error, which the SDK would read as a failed settle.
      const outcome =
        kind === 'accepted'
          ? outcomes.accepted()
          : kind === 'rejected'
            ? outcomes.rejected({})
            : kind === 'released'
              ? outcomes.released()
              : outcomes.modified({ undeliverable_here: state?.undeliverable_here ?? false });
      settleFinally(delivery, outcome);
    } else {
      settleFinally(delivery, outcomes.rejected({ error: { condition: LOCK_LOST_CONDITION, description: LOCK_LOST_DESCRIPTION } }));
    }
  }
}

/**
 * Settles an outgoing peek-lock transfer. With `rcv_settle_mode` second the client settles after us
 * without sending another disposition, so rhea would keep the delivery forever (its session buffer
 * holds 2048): the exchange is complete once we have settled, so mark it settled on both ends.
 */
function settleFinally(delivery: Delivery, outcome: Outcome): void {
  delivery.update(true, outcome.described());
  (delivery as unknown as { remote_settled: boolean }).remote_settled = true;
}

/** Splits a batched transfer (format 0x80013700) into its data sections, each one encoded message. */
function unbatch(payload: Buffer): Buffer[] {
  const envelope = rhea.message.decode(payload);
  const body = envelope.body as { typecode?: number; content?: unknown; multiple?: boolean } | undefined;
  if (!body || body.typecode !== 0x75) return [];
  return (body.multiple ? body.content : [body.content]) as Buffer[];
}

export async function startServiceBusPeer(options: ServiceBusPeerOptions = {}): Promise<ServiceBusPeer> {
  const peer = new Peer(options);
  await peer.start();
  return peer;
}

export interface PeerQueueStats {
  active: number;
  available: number;
  locked: number;
  deadLettered: number;
}

export interface ServiceBusPeerProcess {
  readonly connectionString: string;
  readonly port: number;
  readonly pid: number;
  /** The broker-side counts of a queue (created on first use). */
  stats(queue: string): Promise<PeerQueueStats>;
  /** Stops the peer process and waits for it to exit (SIGKILL after 5 s). */
  close(): Promise<void>;
}

/**
 * The peer in a child process: its memory and CPU stay out of the test process (the contract suite
 * measures the client's memory during a 100,000-message burst; a benchmark must not share an event
 * loop with the broker). `authorize` cannot cross the process boundary and is ignored.
 */
export async function startServiceBusPeerProcess(options: Omit<ServiceBusPeerOptions, 'authorize'> = {}): Promise<ServiceBusPeerProcess> {
  const script = fileURLToPath(new URL('./peer-process.ts', import.meta.url));
  const child = spawn(process.execPath, [script], {
    env: { ...process.env, SURGE_SB_PEER_OPTIONS: JSON.stringify(options) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the Service Bus peer process exited (${String(code)}) before listening`)));
    child.on('message', (m: { ready?: boolean; port?: number }) => {
      if (m.ready && m.port) resolve(m.port);
    });
  });
  let nextId = 1;
  const pending = new Map<number, (reply: { stats?: PeerQueueStats }) => void>();
  child.on('message', (m: { id?: number; stats?: PeerQueueStats }) => {
    if (m.id !== undefined) pending.get(m.id)?.(m);
  });
  const call = (op: 'stats' | 'close', queue?: string): Promise<{ stats?: PeerQueueStats }> =>
    new Promise((resolve) => {
      const id = nextId++;
      pending.set(id, (reply) => {
        pending.delete(id);
        resolve(reply);
      });
      child.send({ id, op, queue });
    });
  return {
    connectionString: peerConnectionString(port),
    port,
    pid: child.pid as number,
    async stats(queue) {
      return (await call('stats', queue)).stats as PeerQueueStats;
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
