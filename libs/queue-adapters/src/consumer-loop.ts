/**
 * Concurrency-limited consumption for any backend, pull-based (`ConsumerLoop`) or push-based
 * (`InFlightTracker` alone). Both enforce the interface's promises: never more than `concurrency`
 * handlers at once; `stop()` takes nothing new and waits for in-flight handlers; a handler that
 * throws or returns without settling gets its delivery abandoned, so nothing is silently dropped.
 */
import { errorFields, errorMessage, type Logger } from '@surge/core';
import { isQueueError, QueueError } from './errors.ts';
import type { Consumer, Delivery, DeliveryHandler } from './types.ts';

/** Wraps a delivery so the caller can tell whether the handler settled it. */
export function trackSettlement(delivery: Delivery): { delivery: Delivery; isSettled: () => boolean } {
  let settled = false;
  const mark =
    <A extends unknown[]>(settle: (...args: A) => Promise<void>) =>
    (...args: A): Promise<void> => {
      settled = true;
      return settle(...args);
    };
  const wrapped: Delivery = {
    id: delivery.id,
    queue: delivery.queue,
    body: delivery.body,
    properties: delivery.properties,
    deliveryCount: delivery.deliveryCount,
    enqueuedAt: delivery.enqueuedAt,
    complete: mark(() => delivery.complete()),
    abandon: mark(() => delivery.abandon()),
    deadLetter: mark((reason: string, description?: string) => delivery.deadLetter(reason, description)),
  };
  return { delivery: wrapped, isSettled: () => settled };
}

/** Counts in-flight handlers, runs each with the abandon-if-unsettled guarantee, and resolves `idle()` at zero. */
export class InFlightTracker {
  private count = 0;
  private idleWaiters: (() => void)[] = [];
  private slotWaiters: (() => void)[] = [];
  private readonly handler: DeliveryHandler;
  private readonly logger: Logger;

  constructor(handler: DeliveryHandler, logger: Logger) {
    this.handler = handler;
    this.logger = logger;
  }

  get inFlight(): number {
    return this.count;
  }

  run(delivery: Delivery): void {
    this.count++;
    const { delivery: tracked, isSettled } = trackSettlement(delivery);
    void this.handler(tracked)
      .catch((error: unknown) => {
        this.logger.warn(
          { messageId: delivery.id, queue: delivery.queue, err: errorFields(error) },
          'handler failed; abandoning the delivery',
        );
      })
      .then(async () => {
        if (!isSettled()) await tracked.abandon();
      })
      .catch((error: unknown) => {
        // The lease or channel is gone: the broker redelivers on its own.
        if (!isQueueError(error))
          this.logger.error({ messageId: delivery.id, queue: delivery.queue, err: errorFields(error) }, 'abandon failed');
      })
      .finally(() => {
        this.count--;
        this.slotWaiters.shift()?.();
        if (this.count === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
      });
  }

  /** Resolves once a handler slot is free (below `limit`). */
  async slot(limit: number): Promise<void> {
    while (this.count >= limit) await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
  }

  idle(): Promise<void> {
    return this.count === 0 ? Promise.resolve() : new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}

export interface PullSource {
  concurrency: number;
  handler: DeliveryHandler;
  logger: Logger;
  /** Resolves with up to `free` deliveries, waiting for some; resolves empty once `signal` aborts. */
  fetch(free: number, signal: AbortSignal): Promise<Delivery[]>;
  /** Hears the last failure when the loop stops for good (see GIVE_UP_AFTER_FAILURES). */
  onGiveUp?: ((error: QueueError) => void) | undefined;
}

/**
 * After this many fetch failures in a row the consumer reports itself detached (readiness off, the
 * attached gauge 0) until a fetch succeeds again: a consumer that cannot fetch must not look healthy.
 */
export const DETACH_AFTER_FAILURES = 3;
/**
 * Non-retryable fetch failures in a row (a damaged queue file) after which the loop stops for good;
 * with the backoff below that is about 6 s of trying. Retryable ones never end the loop.
 */
export const GIVE_UP_AFTER_FAILURES = 5;

export class ConsumerLoop implements Consumer {
  private readonly abort = new AbortController();
  private readonly tracker: InFlightTracker;
  private readonly source: PullSource;
  private readonly loop: Promise<void>;
  private running = true;
  private failuresInARow = 0;

  private constructor(source: PullSource) {
    if (!Number.isInteger(source.concurrency) || source.concurrency < 1) throw new RangeError('concurrency must be a positive integer');
    this.source = source;
    this.tracker = new InFlightTracker(source.handler, source.logger);
    this.loop = this.run();
  }

  static start(source: PullSource): ConsumerLoop {
    return new ConsumerLoop(source);
  }

  get attached(): boolean {
    return this.running && this.failuresInARow < DETACH_AFTER_FAILURES;
  }

  get inFlight(): number {
    return this.tracker.inFlight;
  }

  async stop(): Promise<void> {
    this.running = false;
    this.abort.abort();
    await this.loop;
    await this.tracker.idle();
  }

  private notify(error: QueueError, listener: ((error: QueueError) => void) | undefined): void {
    try {
      listener?.(error);
    } catch (callbackError) {
      this.source.logger.error({ err: errorFields(callbackError) }, 'onError callback threw');
    }
  }

  private async run(): Promise<void> {
    const { concurrency } = this.source;
    while (this.running) {
      await this.tracker.slot(concurrency);
      if (!this.running) break;
      let batch: Delivery[];
      try {
        batch = await this.source.fetch(concurrency - this.tracker.inFlight, this.abort.signal);
      } catch (error) {
        if (!this.running) break;
        this.failuresInARow++;
        const queueError = isQueueError(error)
          ? error
          : new QueueError('INTERNAL', `fetching deliveries failed: ${errorMessage(error)}`, { cause: error });
        if (!queueError.retryable && this.failuresInARow >= GIVE_UP_AFTER_FAILURES) {
          this.running = false;
          this.source.logger.error(
            { err: errorFields(error), failures: this.failuresInARow },
            'fetching deliveries keeps failing and retrying cannot fix it; the consumer stopped',
          );
          this.notify(queueError, this.source.onGiveUp);
          break;
        }
        // Exponential backoff (200 ms doubling, capped at 5 s): a broken queue is not polled five times a second for ever.
        const delayMs = Math.min(5_000, 200 * 2 ** (this.failuresInARow - 1));
        this.source.logger.error(
          { err: errorFields(error), failures: this.failuresInARow, retryInMs: delayMs },
          'fetching deliveries failed; retrying',
        );
        const signal = this.abort.signal;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, delayMs);
          function done(): void {
            clearTimeout(timer);
            signal.removeEventListener('abort', done);
            resolve();
          }
          signal.addEventListener('abort', done, { once: true });
        });
        continue;
      }
      this.failuresInARow = 0;
      for (const delivery of batch) {
        // Fetched after stop() began: give it straight back rather than start new work.
        if (!this.running) void delivery.abandon().catch(() => {});
        else this.tracker.run(delivery);
      }
    }
  }
}
