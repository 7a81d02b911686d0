/**
 * Concurrency-limited consumption for any backend, pull-based (`ConsumerLoop`) or push-based
 * (`InFlightTracker` alone). Both enforce the interface's promises: never more than `concurrency`
 * handlers at once; `stop()` takes nothing new and waits for in-flight handlers; a handler that
 * throws or returns without settling gets its delivery abandoned, so nothing is silently dropped.
 */
import type { AdapterLogger } from './factory.ts';
import { isQueueError } from './errors.ts';
import type { Consumer, Delivery, DeliveryHandler } from './types.ts';

/** Wraps a delivery so the caller can tell whether the handler settled it. */
export function trackSettlement(delivery: Delivery): { delivery: Delivery; isSettled: () => boolean } {
  let settled = false;
  const mark = <A extends unknown[]>(settle: (...args: A) => Promise<void>) =>
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
  private readonly logger: AdapterLogger;

  constructor(handler: DeliveryHandler, logger: AdapterLogger) {
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
        this.logger.warn({ messageId: delivery.id, queue: delivery.queue, err: describe(error) }, 'handler failed; abandoning the delivery');
      })
      .then(async () => {
        if (!isSettled()) await tracked.abandon();
      })
      .catch((error: unknown) => {
        // The lease or channel is gone: the broker redelivers on its own.
        if (!isQueueError(error)) this.logger.error({ messageId: delivery.id, queue: delivery.queue, err: describe(error) }, 'abandon failed');
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

function describe(error: unknown): { message: string; code?: string } {
  if (error instanceof Error) {
    const code: unknown = (error as Error & { code?: unknown }).code;
    return typeof code === 'string' ? { message: error.message, code } : { message: error.message };
  }
  return { message: String(error) };
}

export interface PullSource {
  concurrency: number;
  handler: DeliveryHandler;
  logger: AdapterLogger;
  /** Resolves with up to `free` deliveries, waiting for some; resolves empty once `signal` aborts. */
  fetch(free: number, signal: AbortSignal): Promise<Delivery[]>;
}

export class ConsumerLoop implements Consumer {
  private readonly abort = new AbortController();
  private readonly tracker: InFlightTracker;
  private readonly source: PullSource;
  private readonly loop: Promise<void>;
  private running = true;

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
    return this.running;
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

  private async run(): Promise<void> {
    const { concurrency } = this.source;
    while (this.running) {
      await this.tracker.slot(concurrency);
      if (!this.running) break;
      let batch: Delivery[];
      try {
        batch = await this.source.fetch(concurrency - this.tracker.inFlight, this.abort.signal);
      } catch (error) {
        this.source.logger.error({ err: describe(error) }, 'fetching deliveries failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, 200));
        continue;
      }
      for (const delivery of batch) {
        // Fetched after stop() began: give it straight back rather than start new work.
        if (!this.running) void delivery.abandon().catch(() => {});
        else this.tracker.run(delivery);
      }
    }
  }
}
