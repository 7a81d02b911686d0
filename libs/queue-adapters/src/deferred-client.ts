/**
 * A queue client for a process that must serve while its broker is away (the producer): the first
 * open is tried at once; if it fails with a retryable error the caller gets a client that answers
 * every call with QUEUE_UNAVAILABLE (so readiness reports 503 and new loads are refused with 503)
 * while the open is retried in the background with capped exponential backoff, and that delegates
 * to the real client once it is open. A failure retrying cannot fix (a damaged embedded file, wrong
 * credentials) is thrown by the first attempt, or handed to `onFatal` when a later attempt meets it.
 */
import { sleep, type Logger } from '@surge/core';
import { QueueError } from './errors.ts';
import type {
  Consumer,
  ConsumeOptions,
  DeadLetter,
  Delivery,
  DeliveryHandler,
  OutgoingMessage,
  QueueClient,
  QueueDepth,
  QueueKind,
} from './types.ts';

export interface OpenWhenAvailableOptions {
  kind: QueueKind;
  queue: string;
  logger: Logger;
  /** A later attempt failed with an error that retrying cannot fix; the client stays unavailable. */
  onFatal: (error: unknown) => void;
  /** First retry delay; it doubles up to `retryCapMs`. Defaults 500 ms and 15 s. */
  retryBaseMs?: number;
  retryCapMs?: number;
}

const isRetryable = (error: unknown): boolean => (error as { retryable?: unknown }).retryable === true;

export async function openWhenAvailable(open: () => Promise<QueueClient>, options: OpenWhenAvailableOptions): Promise<QueueClient> {
  try {
    return await open();
  } catch (error) {
    if (!isRetryable(error)) throw error;
    options.logger.warn(
      { queue: options.queue, err: (error as Error).message },
      'queue unavailable at start; serving 503 and retrying in the background',
    );
    return new DeferredQueueClient(open, options, error);
  }
}

class DeferredQueueClient implements QueueClient {
  readonly kind: QueueKind;
  readonly queue: string;
  private client: QueueClient | undefined;
  private lastError: unknown;
  private readonly stopRetrying = new AbortController();
  private readonly retrying: Promise<void>;

  constructor(open: () => Promise<QueueClient>, options: OpenWhenAvailableOptions, firstError: unknown) {
    this.kind = options.kind;
    this.queue = options.queue;
    this.lastError = firstError;
    this.retrying = this.retry(open, options);
  }

  private async retry(open: () => Promise<QueueClient>, options: OpenWhenAvailableOptions): Promise<void> {
    const signal = this.stopRetrying.signal;
    const base = options.retryBaseMs ?? 500;
    const cap = options.retryCapMs ?? 15_000;
    for (let attempt = 0; !signal.aborted; attempt++) {
      const delayMs = Math.min(cap, base * 2 ** attempt);
      await sleep(delayMs, signal);
      if (signal.aborted) return;
      try {
        const client = await open();
        if (signal.aborted) {
          await client.close().catch(() => {});
          return;
        }
        this.client = client;
        options.logger.info({ queue: this.queue, attempts: attempt + 2 }, 'queue available: connected');
        return;
      } catch (error) {
        this.lastError = error;
        if (!isRetryable(error)) {
          options.onFatal(error);
          return;
        }
        options.logger.warn(
          { queue: this.queue, err: (error as Error).message, retryInMs: Math.min(cap, base * 2 ** (attempt + 1)) },
          'queue still unavailable; retrying',
        );
      }
    }
  }

  private get ready(): QueueClient {
    if (this.client) return this.client;
    throw new QueueError(
      'UNAVAILABLE',
      `queue ${this.queue} is not connected yet: ${(this.lastError as Error | undefined)?.message ?? 'connecting'}`,
      { queue: this.queue, cause: this.lastError },
    );
  }

  async send(messages: readonly OutgoingMessage[]): Promise<void> {
    return this.ready.send(messages);
  }

  async receive(max: number, waitMs: number): Promise<Delivery[]> {
    return this.ready.receive(max, waitMs);
  }

  async consume(handler: DeliveryHandler, options: ConsumeOptions): Promise<Consumer> {
    return this.ready.consume(handler, options);
  }

  async depth(): Promise<QueueDepth> {
    return this.ready.depth();
  }

  async peekDeadLetters(max: number): Promise<DeadLetter[]> {
    return this.ready.peekDeadLetters(max);
  }

  async ping(): Promise<void> {
    return this.ready.ping();
  }

  async close(): Promise<void> {
    this.stopRetrying.abort();
    await this.retrying;
    await this.client?.close();
  }
}
