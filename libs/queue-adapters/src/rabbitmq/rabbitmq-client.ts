/**
 * The RabbitMQ backend (amqplib). See topology.ts for the broker objects and why the queue is a
 * quorum queue, publisher.ts for confirmed sends, consumer.ts for consumption and recovery.
 *
 * Two connections: `publish` (sends, dead-letter copies, peeks) and `consume` (receive, consume) —
 * a broker alarm blocks publishing connections, and a consumer must still be able to ack while it
 * lasts. Topology, checks and depth go over whichever connection the client's `usage` opens at
 * connect (publish by default, consume for workers); the other one is opened on first use.
 */
import type { Channel, ConsumeMessage, GetMessage, MessagePropertyHeaders } from 'amqplib';
import { withTimeout, silentLogger, type Logger } from '@surge/core';
import type { RabbitMqQueueConfig } from '../config.ts';
import { QueueError } from '../errors.ts';
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
import { toQueueError } from './amqp-errors.ts';
import { DEFAULT_CONNECTION_TUNING, ManagedConnection, type ConnectionTuning } from './connection.ts';
import { RabbitMqConsumer } from './consumer.ts';
import { Lane, RabbitMqDelivery, userProperties, type DeliveryContext } from './delivery.ts';
import { ManagementApi } from './management.ts';
import { ConfirmPublisher, DEFAULT_PUBLISH_TUNING, type Publication, type PublishTuning } from './publisher.ts';
import { DEAD_LETTER_DESCRIPTION_HEADER, DEAD_LETTER_REASON_HEADER, topologyFor, type Topology } from './topology.ts';

/**
 * Every Surge message body is a JSON work message. Consumers in other stacks pick their decoder by the
 * AMQP content type (Spring AMQP's JSON converter, for one), so it is always set.
 */
const MESSAGE_CONTENT_TYPE = 'application/json';
/** RabbitMQ's default `consumer_timeout` (30 min): a delivery unacked for longer gets its channel closed. */
const BROKER_CONSUMER_TIMEOUT_MS = 30 * 60_000;
/** After the first message of a `receive`, how long to wait for more before returning. */
const RECEIVE_LINGER_MS = 25;

export interface RabbitMqClientOptions extends AdapterOptions {
  connection?: Partial<ConnectionTuning>;
  publish?: Partial<PublishTuning>;
  /** Bound of `close()`. Default 5 s. */
  closeTimeoutMs?: number;
}

export class RabbitMqQueueClient implements QueueClient {
  readonly kind = 'rabbitmq' as const;
  readonly queue: string;
  private readonly config: RabbitMqQueueConfig;
  private readonly logger: Logger;
  private readonly topology: Topology;
  private readonly publishConnection: ManagedConnection;
  private readonly consumeConnection: ManagedConnection;
  /** Opened at connect; carries the admin channel (declares, checks, depth fallback). */
  private readonly adminConnection: ManagedConnection;
  private readonly publisher: ConfirmPublisher;
  private readonly management: ManagementApi | undefined;
  private readonly consumers = new Set<RabbitMqConsumer>();
  private readonly closeTimeoutMs: number;
  private readonly deliveryContext: DeliveryContext;
  private adminChannel: Promise<Channel> | undefined;
  private receiveLane: Lane | undefined;
  private closed = false;

  private constructor(config: RabbitMqQueueConfig, options: RabbitMqClientOptions) {
    this.config = config;
    this.queue = config.queue;
    this.logger = options.logger ?? silentLogger;
    this.topology = topologyFor(config.queue, config.maxDeliveries);
    const tuning = { ...DEFAULT_CONNECTION_TUNING, ...options.connection };
    this.publishConnection = new ManagedConnection('publish', config.url, config.queue, this.logger, tuning);
    this.consumeConnection = new ManagedConnection('consume', config.url, config.queue, this.logger, tuning);
    this.adminConnection = options.usage === 'consume' ? this.consumeConnection : this.publishConnection;
    this.publisher = new ConfirmPublisher(this.publishConnection, config.queue, this.logger, {
      ...DEFAULT_PUBLISH_TUNING,
      ...options.publish,
    });
    this.management = config.managementUrl ? new ManagementApi(config.managementUrl, config.url) : undefined;
    this.closeTimeoutMs = options.closeTimeoutMs ?? 5_000;
    this.deliveryContext = {
      queue: config.queue,
      maxDeliveries: config.maxDeliveries,
      publishDeadLetter: (message, headers) => this.publishDeadLetter(message, headers),
    };
    // A lost admin connection drops its cached channel.
    this.adminConnection.on('lost', () => (this.adminChannel = undefined));
  }

  static async connect(config: RabbitMqQueueConfig, options: RabbitMqClientOptions = {}): Promise<RabbitMqQueueClient> {
    const client = new RabbitMqQueueClient(config, options);
    try {
      await client.adminConnection.open();
      // An observer declares nothing: a queue that does not exist yet reads as QUEUE_NOT_FOUND at
      // depth time, and one declared with other arguments is read as it is.
      if (options.usage !== 'observe') await client.declareTopology();
    } catch (error) {
      await client.close();
      throw toQueueError(error, `cannot set up queue ${config.queue}`, config.queue);
    }
    client.logger.info(
      {
        queue: config.queue,
        host: client.adminConnection.host,
        depthFrom: client.management ? `management API at ${client.management.host}` : 'passive declare (ready only)',
      },
      'rabbitmq queue client connected',
    );
    if (!client.management)
      client.logger.warn(
        { queue: config.queue },
        'no RABBITMQ_MANAGEMENT_URL: depth reports ready messages only (in-flight unknown, reported as 0)',
      );
    if (config.maxProcessingMs > BROKER_CONSUMER_TIMEOUT_MS) {
      client.logger.warn(
        { queue: config.queue, maxProcessingMs: config.maxProcessingMs },
        "maxProcessingMs exceeds RabbitMQ's default consumer_timeout (30 min): raise consumer_timeout on the broker or deliveries will be redelivered mid-work",
      );
    }
    return client;
  }

  private async declareTopology(): Promise<void> {
    const t = this.topology;
    const channel = await this.admin();
    await channel.assertExchange(t.deadLetterExchange, 'fanout', { durable: true });
    await channel.assertQueue(t.deadLetterQueue, { durable: true, arguments: t.deadLetterQueueArguments });
    await channel.bindQueue(t.deadLetterQueue, t.deadLetterExchange, '');
    try {
      await channel.assertQueue(t.queue, { durable: true, arguments: t.queueArguments });
    } catch (error) {
      const queueError = toQueueError(error, `declaring queue ${t.queue}`, t.queue);
      if (queueError.code === 'QUEUE_INCOMPATIBLE') {
        throw new QueueError(
          'INCOMPATIBLE',
          `queue ${t.queue} exists with other arguments (Surge needs a quorum queue with dead-letter exchange ${t.deadLetterExchange} and x-delivery-limit ${t.queueArguments['x-delivery-limit']} = QUEUE_MAX_DELIVERIES - 1); delete it or use another QUEUE_NAME`,
          { queue: t.queue, cause: error },
        );
      }
      throw queueError;
    }
  }

  /** A plain channel on the admin connection for declares and checks; re-created after it closes. */
  private admin(): Promise<Channel> {
    this.adminChannel ??= (async () => {
      const model = await this.adminConnection.get(DEFAULT_CONNECTION_TUNING.connectTimeoutMs);
      const channel = await model.createChannel();
      channel.on('error', (error: Error) =>
        this.logger.debug({ queue: this.queue, err: error.message }, 'admin channel closed by the broker'),
      );
      channel.once('close', () => {
        if (this.adminChannel === current) this.adminChannel = undefined;
      });
      return channel;
    })();
    const current = this.adminChannel;
    current.catch(() => {
      if (this.adminChannel === current) this.adminChannel = undefined;
    });
    return current;
  }

  async send(messages: readonly OutgoingMessage[]): Promise<void> {
    this.assertOpen();
    const timestamp = Math.floor(Date.now() / 1000);
    const publications: Publication[] = messages.map((m) => ({
      exchange: '',
      routingKey: this.queue,
      content: Buffer.isBuffer(m.body) ? m.body : Buffer.from(m.body.buffer, m.body.byteOffset, m.body.byteLength),
      options: { messageId: m.id, contentType: MESSAGE_CONTENT_TYPE, persistent: true, mandatory: true, timestamp, headers: m.properties },
    }));
    await this.publisher.publish(publications);
  }

  private async publishDeadLetter(message: ConsumeMessage | GetMessage, headers: MessagePropertyHeaders): Promise<void> {
    const { properties } = message;
    await this.publisher.publish([
      {
        exchange: this.topology.deadLetterExchange,
        routingKey: this.queue,
        content: message.content,
        options: {
          messageId: properties.messageId,
          timestamp: properties.timestamp,
          contentType: properties.contentType,
          persistent: true,
          // A dead-letter queue that was deleted must not swallow the copy silently.
          mandatory: true,
          headers,
        },
      },
    ]);
  }

  async receive(max: number, waitMs: number): Promise<Delivery[]> {
    this.assertOpen();
    if (!Number.isInteger(max) || max < 1) throw new RangeError('max must be a positive integer');
    const lane = await this.openReceiveLane(Math.max(waitMs, 1_000));
    const collected: RabbitMqDelivery[] = [];
    const take = (message: ConsumeMessage | GetMessage) => collected.push(new RabbitMqDelivery(lane, message, this.deliveryContext));

    if (waitMs <= 0) {
      // No waiting: take what is ready now, one basic.get at a time.
      while (collected.length < max) {
        const message = await lane.channel.get(this.queue, { noAck: false }).catch((error: unknown) => {
          throw toQueueError(error, 'receive failed', this.queue);
        });
        if (!message) break;
        take(message);
      }
      return this.handOut(collected);
    }

    // A short-lived consumer with prefetch = max: the broker pushes at most `max` messages, we
    // wait for the first (up to waitMs), linger briefly for more, then cancel. Everything that
    // arrived before cancel-ok is ours — never more than `max`.
    let wake: () => void = () => {};
    const onMessage = (message: ConsumeMessage | null) => {
      if (message) take(message);
      wake();
    };
    const onClose = () => wake();
    lane.channel.once('close', onClose);
    let tag: string;
    try {
      // Issued back to back so another receive's prefetch cannot come in between.
      const qos = lane.channel.prefetch(max, false);
      const consume = lane.channel.consume(this.queue, onMessage, { noAck: false });
      await qos;
      tag = (await consume).consumerTag;
    } catch (error) {
      lane.channel.off('close', onClose);
      throw toQueueError(error, 'receive failed', this.queue);
    }
    const deadline = Date.now() + waitMs;
    while (lane.open && collected.length < max) {
      const remaining = collected.length === 0 ? deadline - Date.now() : Math.min(RECEIVE_LINGER_MS, deadline - Date.now());
      if (remaining <= 0) break;
      const before = collected.length;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        timer.unref();
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      if (collected.length > 0 && collected.length === before) break; // lingered with nothing new
    }
    lane.channel.off('close', onClose);
    if (lane.open) await lane.channel.cancel(tag).catch(() => undefined);
    if (!lane.open && collected.length === 0)
      throw new QueueError('UNAVAILABLE', 'the consume channel closed during receive', { queue: this.queue });
    return this.handOut(collected);
  }

  /** Drops deliveries that already used up their deliveries (dead-lettering them) and returns the rest. */
  private handOut(deliveries: RabbitMqDelivery[]): Delivery[] {
    const out: Delivery[] = [];
    for (const delivery of deliveries) {
      if (delivery.overLimit) this.retire(delivery);
      else out.push(delivery);
    }
    return out;
  }

  /**
   * A delivery past maxDeliveries (its earlier holder died on the last allowed attempt, or the
   * broker counts differently): dead-letter it without running any handler.
   */
  private retire(delivery: RabbitMqDelivery): void {
    this.logger.warn(
      { queue: this.queue, messageId: delivery.id, deliveryCount: delivery.deliveryCount },
      'delivery arrived past maxDeliveries; dead-lettering it',
    );
    delivery
      .deadLetter(
        DeadLetterReasons.MAX_DELIVERIES,
        `delivered ${delivery.deliveryCount} times (maxDeliveries ${this.config.maxDeliveries})`,
      )
      .catch((error: unknown) => {
        this.logger.warn(
          { queue: this.queue, messageId: delivery.id, err: (error as Error).message },
          'dead-lettering an over-limit delivery failed; the broker will redeliver it',
        );
      });
  }

  private async openReceiveLane(waitMs: number): Promise<Lane> {
    if (this.receiveLane?.open) return this.receiveLane;
    const model = await this.consumeConnection.get(waitMs);
    let channel: Channel;
    try {
      channel = await model.createChannel();
    } catch (error) {
      throw toQueueError(error, 'cannot open a receive channel', this.queue);
    }
    channel.on('error', (error: Error) =>
      this.logger.warn({ queue: this.queue, err: error.message }, 'receive channel closed by the broker'),
    );
    this.receiveLane = new Lane(channel);
    return this.receiveLane;
  }

  async consume(handler: DeliveryHandler, options: ConsumeOptions): Promise<Consumer> {
    this.assertOpen();
    const concurrency = options.concurrency;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError('concurrency must be a positive integer');
    const consumer = await RabbitMqConsumer.start(
      this.consumeConnection,
      {
        queue: this.queue,
        concurrency,
        prefetch: Math.max(concurrency, this.config.prefetch ?? concurrency),
        handler,
        onError: options.onError,
        logger: this.logger,
        context: this.deliveryContext,
        retire: (delivery) => this.retire(delivery),
      },
      DEFAULT_CONNECTION_TUNING.connectTimeoutMs,
    );
    this.consumers.add(consumer);
    const stop = consumer.stop.bind(consumer);
    consumer.stop = async () => {
      await stop();
      this.consumers.delete(consumer);
    };
    return consumer;
  }

  async depth(): Promise<QueueDepth> {
    this.assertOpen();
    if (this.management) {
      const [main, dead] = await Promise.all([
        this.management.queueStats(this.queue),
        this.management.queueStats(this.topology.deadLetterQueue),
      ]);
      return { ready: main.ready, inFlight: main.unacknowledged, deadLettered: dead.ready + dead.unacknowledged };
    }
    // Passive declare: exact, but counts ready messages only.
    try {
      const channel = await this.admin();
      const [main, dead] = await Promise.all([channel.checkQueue(this.queue), channel.checkQueue(this.topology.deadLetterQueue)]);
      return { ready: main.messageCount, inFlight: 0, deadLettered: dead.messageCount };
    } catch (error) {
      throw toQueueError(error, 'depth', this.queue);
    }
  }

  /**
   * Reads without removing: basic.get without ack on a channel of its own, then nack-with-requeue
   * and close, so the messages go back in order.
   */
  async peekDeadLetters(max: number): Promise<DeadLetter[]> {
    this.assertOpen();
    const model = await this.publishConnection.get(DEFAULT_CONNECTION_TUNING.connectTimeoutMs);
    let channel: Channel | undefined;
    try {
      channel = await model.createChannel();
      channel.on('error', () => undefined);
      const out: DeadLetter[] = [];
      let last: GetMessage | undefined;
      while (out.length < max) {
        const message = await channel.get(this.topology.deadLetterQueue, { noAck: false });
        if (!message) break;
        last = message;
        out.push(toDeadLetter(message));
      }
      if (last) channel.nack(last, true, true);
      return out;
    } catch (error) {
      throw toQueueError(error, 'peeking dead letters', this.queue);
    } finally {
      await channel?.close().catch(() => undefined);
    }
  }

  async ping(): Promise<void> {
    this.assertOpen();
    if (!this.adminConnection.current)
      throw new QueueError('UNAVAILABLE', `no connection to RabbitMQ at ${this.adminConnection.host}`, { queue: this.queue });
    try {
      await withTimeout(
        this.admin().then((channel) => channel.checkQueue(this.queue)),
        5_000,
        'rabbitmq ping',
      );
    } catch (error) {
      throw toQueueError(error, 'ping', this.queue);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Stop intake everywhere; handlers still running lose their deliveries when the connection
    // closes and the broker redelivers them (close is bounded; stop() is the graceful path).
    for (const consumer of this.consumers) consumer.halt();
    const stops = Promise.all([...this.consumers].map((c) => c.stop()));
    const budget = this.closeTimeoutMs;
    await Promise.race([stops, new Promise<void>((resolve) => setTimeout(resolve, Math.floor(budget / 2)).unref())]);
    // Acks are fire-and-forget frames: closing the connection right after them can lose them, and
    // the broker requeues completed messages. A channel's close-ok comes only after its earlier frames.
    const lane = this.receiveLane;
    if (lane?.open) await withTimeout(lane.close(), Math.floor(budget / 4), 'closing the receive channel').catch(() => undefined);
    await this.publisher.close().catch(() => undefined);
    await Promise.all([this.publishConnection.close(Math.floor(budget / 2)), this.consumeConnection.close(Math.floor(budget / 2))]);
    this.logger.info({ queue: this.queue }, 'rabbitmq queue client closed');
  }

  private assertOpen(): void {
    if (this.closed) throw new QueueError('CLOSED', 'the queue client is closed', { queue: this.queue });
  }
}

function toDeadLetter(message: GetMessage): DeadLetter {
  const headers = message.properties.headers ?? {};
  const surgeReason = headerString(headers[DEAD_LETTER_REASON_HEADER]);
  const brokerReason = headerString(headers['x-first-death-reason']);
  return {
    id: typeof message.properties.messageId === 'string' ? message.properties.messageId : `rabbitmq:${message.fields.deliveryTag}`,
    body: message.content,
    properties: userProperties(headers),
    // Dead-lettered by the broker: its delivery limit is the same rule as ours, under our name.
    reason: surgeReason ?? (brokerReason === 'delivery_limit' ? DeadLetterReasons.MAX_DELIVERIES : (brokerReason ?? 'unknown')),
    description:
      headerString(headers[DEAD_LETTER_DESCRIPTION_HEADER]) ?? (brokerReason ? `dead-lettered by RabbitMQ (${brokerReason})` : undefined),
  };
}

function headerString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return undefined;
}
