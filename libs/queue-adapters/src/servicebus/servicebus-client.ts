/**
 * The Service Bus backend (`@azure/service-bus`). At-least-once: every receive is peek-lock; a
 * message is removed only when the caller completes it after its side effect. Locks are renewed
 * automatically for up to `maxProcessingMs` in total (the SDK's `maxAutoLockRenewalDurationInMs`
 * is a total, not an interval). Anything not completed comes back with its delivery count + 1;
 * an abandon on the last allowed delivery dead-letters instead.
 *
 * One `ServiceBusClient` (one AMQP connection) per adapter; one sender; one receiver for `receive`
 * (calls are serialised: concurrent `receiveMessages` on one peek-lock receiver lose locks); one
 * receiver per `consume`.
 */
import {
  RetryMode,
  type ServiceBusMessage,
  type ServiceBusReceivedMessage,
  type ServiceBusReceiver,
  type ServiceBusSender,
} from '@azure/service-bus';
import { withTimeout, silentLogger, type Logger } from '@surge/core';
import type { ServiceBusQueueConfig } from '../config.ts';
import { QueueError } from '../errors.ts';
import type {
  Consumer,
  ConsumeOptions,
  DeadLetter,
  Delivery,
  DeliveryHandler,
  OutgoingMessage,
  QueueClient,
  QueueDepth,
  AdapterOptions,
} from '../types.ts';
import { createServiceBusClients, type ServiceBusClients } from './servicebus-connection.ts';
import { ServiceBusConsumer } from './servicebus-consumer.ts';
import { ServiceBusDelivery, toDeadLetter } from './servicebus-delivery.ts';
import { translateServiceBusError } from './servicebus-errors.ts';

export interface ServiceBusAdapterOptions extends AdapterOptions {
  /** Bound on `close()`; past it the AMQP socket is cut so the process can exit (default 10 s). */
  closeTimeoutMs?: number;
  /** Bound on `ping()` and `depth()` (default 15 s). */
  requestTimeoutMs?: number;
}

/** The SDK caps a peek-lock receive at 2047 messages (its delivery buffer holds 2048). */
const MAX_RECEIVE = 2047;

export class ServiceBusQueueClient implements QueueClient {
  readonly kind = 'servicebus' as const;
  readonly queue: string;
  private readonly config: ServiceBusQueueConfig;
  private readonly clients: ServiceBusClients;
  private readonly logger: Logger;
  private readonly closeTimeoutMs: number;
  private readonly requestTimeoutMs: number;
  private sender: ServiceBusSender | undefined;
  private receiver: ServiceBusReceiver | undefined;
  /** Serialises `receive` calls on the one receiver. */
  private receiveChain: Promise<unknown> = Promise.resolve();
  private readonly consumers = new Set<ServiceBusConsumer>();
  /** Deliveries this client handed out and that are not settled yet (locked on the broker by us). */
  private held = 0;
  private closing: Promise<void> | undefined;

  private constructor(config: ServiceBusQueueConfig, clients: ServiceBusClients, options: ServiceBusAdapterOptions) {
    this.config = config;
    this.queue = config.queue;
    this.clients = clients;
    this.logger = options.logger ?? silentLogger;
    this.closeTimeoutMs = options.closeTimeoutMs ?? 10_000;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 15_000;
  }

  /** No network call happens here: the SDK connects on first use (`ping` checks reachability). */
  static async connect(config: ServiceBusQueueConfig, options: ServiceBusAdapterOptions = {}): Promise<ServiceBusQueueClient> {
    const clients = await createServiceBusClients(config, {
      // The SDK's default waits 30 s between retries: a send to a broker that is down would take minutes to fail.
      retryOptions: { maxRetries: 3, retryDelayInMs: 500, maxRetryDelayInMs: 5_000, mode: RetryMode.Exponential, timeoutInMs: 30_000 },
    });
    const client = new ServiceBusQueueClient(config, clients, options);
    client.logger.info(
      { queue: config.queue, endpoint: clients.endpoint, auth: config.connectionString !== undefined ? 'sas' : 'entra-id' },
      'service bus client created',
    );
    return client;
  }

  async send(messages: readonly OutgoingMessage[]): Promise<void> {
    this.assertOpen();
    if (messages.length === 0) return;
    const sender = this.senderLink();
    try {
      let batch = await sender.createMessageBatch();
      for (const message of messages) {
        const outgoing: ServiceBusMessage = {
          messageId: message.id,
          // Every Surge message body is a JSON work message; consumers in other stacks pick their
          // decoder by the content type (the AMQP content-type property on the wire).
          contentType: 'application/json',
          body: Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength),
          applicationProperties: { ...message.properties },
        };
        if (batch.tryAddMessage(outgoing)) continue;
        if (batch.count > 0) {
          // Full: send what fits (the broker confirms the whole batch) and start the next one.
          await sender.sendMessages(batch);
          batch = await sender.createMessageBatch();
          if (batch.tryAddMessage(outgoing)) continue;
        }
        throw new QueueError(
          'MESSAGE_TOO_LARGE',
          `message ${message.id} (${message.body.byteLength} bytes of body) does not fit a Service Bus message of at most ${batch.maxSizeInBytes} bytes`,
          { queue: this.queue },
        );
      }
      if (batch.count > 0) await sender.sendMessages(batch);
      this.logger.debug({ queue: this.queue, count: messages.length }, 'messages sent');
    } catch (error) {
      throw translateServiceBusError(error, `send of ${messages.length} messages`, this.queue);
    }
  }

  async receive(max: number, waitMs: number): Promise<Delivery[]> {
    this.assertOpen();
    const run = async (): Promise<Delivery[]> => {
      this.assertOpen();
      const receiver = this.receiveLink();
      const messages = await receiver.receiveMessages(Math.max(1, Math.min(max, MAX_RECEIVE)), { maxWaitTimeInMs: Math.max(1, waitMs) });
      return messages.map((m) => this.wrap(m, receiver));
    };
    const result = this.receiveChain.then(run, run);
    this.receiveChain = result.catch(() => undefined);
    try {
      return await result;
    } catch (error) {
      throw translateServiceBusError(error, 'receive', this.queue);
    }
  }

  async consume(handler: DeliveryHandler, options: ConsumeOptions): Promise<Consumer> {
    this.assertOpen();
    if (!Number.isInteger(options.concurrency) || options.concurrency < 1) throw new RangeError('concurrency must be a positive integer');
    const receiver = this.clients.client.createReceiver(this.queue, {
      receiveMode: 'peekLock',
      maxAutoLockRenewalDurationInMs: this.config.maxProcessingMs,
      skipParsingBodyAsJson: true,
    });
    const consumer = new ServiceBusConsumer({
      queue: this.queue,
      receiver,
      handler,
      concurrency: options.concurrency,
      onError: options.onError,
      logger: this.logger,
      wrap: (message) => this.wrap(message, receiver),
      closeTimeoutMs: this.closeTimeoutMs,
      onStopped: () => this.consumers.delete(consumer),
    });
    this.consumers.add(consumer);
    await consumer.start();
    return consumer;
  }

  /**
   * Service Bus reports `activeMessageCount` (waiting + locked: what KEDA's `azure-servicebus` trigger
   * reads) but not how many are locked. `inFlight` is the part this client holds; `ready` is the rest,
   * so `ready + inFlight` is always the active count.
   */
  async depth(): Promise<QueueDepth> {
    this.assertOpen();
    try {
      const properties = await withTimeout(
        this.clients.admin.getQueueRuntimeProperties(this.queue),
        this.requestTimeoutMs,
        'reading queue runtime properties',
      );
      const active = properties.activeMessageCount;
      const inFlight = Math.min(this.held, active);
      return { ready: active - inFlight, inFlight, deadLettered: properties.deadLetterMessageCount };
    } catch (error) {
      throw translateServiceBusError(error, 'depth', this.queue);
    }
  }

  async peekDeadLetters(max: number): Promise<DeadLetter[]> {
    this.assertOpen();
    // A fresh receiver each time: a receiver's peek continues after the last message it peeked.
    const receiver = this.clients.client.createReceiver(this.queue, { subQueueType: 'deadLetter', skipParsingBodyAsJson: true });
    try {
      const found: DeadLetter[] = [];
      while (found.length < max) {
        const page = await receiver.peekMessages(max - found.length);
        if (page.length === 0) break;
        found.push(...page.map(toDeadLetter));
      }
      return found;
    } catch (error) {
      throw translateServiceBusError(error, 'peek of the dead-letter queue', this.queue);
    } finally {
      await withTimeout(receiver.close(), this.closeTimeoutMs, 'closing the dead-letter receiver').catch(() => undefined);
    }
  }

  /** Opens the send link (AMQP connection + CBS authorisation) if needed: proves the broker answers and accepts us. */
  async ping(): Promise<void> {
    this.assertOpen();
    try {
      await withTimeout(this.senderLink().createMessageBatch(), this.requestTimeoutMs, 'opening the Service Bus send link');
    } catch (error) {
      throw translateServiceBusError(error, 'ping', this.queue);
    }
  }

  /**
   * Receivers first, then the sender, then the connection, all under one timeout: the SDK has cases
   * where close never resolves (Azure/azure-sdk-for-js#17932, #21266, #24542). Past the timeout the
   * socket is cut. Unsettled deliveries stay locked on the broker until their lock expires, then
   * come back.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const started = Date.now();
    try {
      await withTimeout(
        (async () => {
          await Promise.allSettled([...this.consumers].map((c) => c.abort()));
          await Promise.allSettled([this.receiver?.close(), this.sender?.close()]);
          await this.clients.client.close();
        })(),
        this.closeTimeoutMs,
        'closing the Service Bus client',
      );
      this.logger.info({ queue: this.queue, ms: Date.now() - started }, 'service bus client closed');
    } catch (error) {
      this.logger.warn(
        { queue: this.queue, err: { message: (error as Error).message } },
        'service bus close timed out; cutting the connection',
      );
      this.cutConnection();
    }
  }

  /** Last resort after a hung close: destroy the AMQP socket so nothing keeps the process alive. */
  private cutConnection(): void {
    try {
      const internals = this.clients.client as unknown as {
        _connectionContext?: { connection?: { _connection?: { socket?: { destroy?: () => void } } } };
      };
      internals._connectionContext?.connection?._connection?.socket?.destroy?.();
    } catch {
      // nothing more can be done
    }
  }

  private wrap(message: ServiceBusReceivedMessage, receiver: ServiceBusReceiver): ServiceBusDelivery {
    this.held++;
    return new ServiceBusDelivery(message, receiver, {
      queue: this.queue,
      maxDeliveries: this.config.maxDeliveries,
      logger: this.logger,
      onSettled: () => {
        this.held = Math.max(0, this.held - 1);
      },
    });
  }

  private senderLink(): ServiceBusSender {
    this.sender ??= this.clients.client.createSender(this.queue);
    return this.sender;
  }

  private receiveLink(): ServiceBusReceiver {
    this.receiver ??= this.clients.client.createReceiver(this.queue, {
      receiveMode: 'peekLock',
      maxAutoLockRenewalDurationInMs: this.config.maxProcessingMs,
      skipParsingBodyAsJson: true,
    });
    return this.receiver;
  }

  private assertOpen(): void {
    if (this.closing) throw new QueueError('CLOSED', `the Service Bus client for queue ${this.queue} is closed`, { queue: this.queue });
  }
}
