import { errorMessage, isSurgeError, backoffDelay, withTimeout, type Logger } from '@surge/core';
import { CONTRACT_VERSION, type LoadRequest, type LoadState, type LoadStatus } from '@surge/contracts';
import type { OutgoingMessage, QueueClient } from '@surge/queue-adapters';
import type { Clock } from './clock.ts';
import { batchSizeForPayload, buildBatch, messageBytes, planMessages, type PropertiesFor } from './messages.ts';
import { RateMeter } from './rate-meter.ts';
import { TokenBucket, batchSizeForRate } from './token-bucket.ts';

export const DEFAULT_SEND_WINDOW = 4;

/** Hooks for metrics; every one is optional. */
export interface LoadObserver {
  loadStarted?(status: LoadStatus): void;
  loadFinished?(status: LoadStatus): void;
  /** A batch the broker confirmed, with how long the confirmed send took. */
  batchConfirmed?(size: number, seconds: number): void;
  /** A send attempt failed (it may be retried). */
  sendFailed?(error: unknown): void;
}

export interface LoadRunOptions {
  queue: Pick<QueueClient, 'send' | 'queue'>;
  /** Messages per send; smaller for rate-limited loads and large payloads. */
  batchSize: number;
  /** How long a batch is retried (with backoff) after its first failure before the load fails. */
  sendRetryMs: number;
  /** Longest one send may wait for its confirm before it counts as a failed attempt; defaults to sendRetryMs. */
  sendTimeoutMs?: number;
  /** Batches in flight at once for a load without a rate (default 4); a rate-limited load sends one at a time. */
  sendWindow?: number;
  clock: Clock;
  /** The lib never logs payloads. */
  logger: Logger;
  observer: LoadObserver;
  propertiesFor: PropertiesFor;
}

/**
 * One load: its request, its progress and the loop that sends it. Messages are generated from a
 * counter one batch at a time, so a 1,000,000-message load holds only the batches in flight in
 * memory. `sent` grows only when the broker has confirmed a whole batch, so it is exact whatever
 * happens next. Cancel stops it at the next batch boundary: no batch starts after it; the ones
 * already handed to the broker (one for a rate-limited load, up to the send window at full speed)
 * are confirmed and counted.
 */
export class Load {
  readonly id: string;
  readonly request: LoadRequest;
  /** Canonical form of the request body; a client load id reused with another body conflicts. */
  readonly fingerprint: string;
  readonly createdAt = new Date();
  private state: LoadState = 'pending';
  private sent = 0;
  /** Messages handed to the broker and not (yet) confirmed: in flight, or lost with a connection. */
  private unconfirmed = 0;
  private startedAt: Date | undefined;
  private finishedAt: Date | undefined;
  private startedMono = 0;
  private finishedMono = 0;
  private error: string | undefined;
  private readonly controller = new AbortController();
  private readonly meter = new RateMeter();
  private readonly options: LoadRunOptions;
  /** Resolves with the final status; never rejects. */
  readonly done: Promise<LoadStatus>;

  constructor(id: string, request: LoadRequest, fingerprint: string, options: LoadRunOptions) {
    this.id = id;
    this.request = request;
    this.fingerprint = fingerprint;
    this.options = options;
    this.done = this.run();
  }

  get finished(): boolean {
    return this.state === 'completed' || this.state === 'failed' || this.state === 'cancelled';
  }

  /** Stops the load: no batch starts after this; batches already being sent are confirmed (and counted) first. */
  cancel(): void {
    this.controller.abort();
  }

  /** Bytes this load may still put on the queue: nothing once it has ended. */
  get pendingBytes(): number {
    return this.finished ? 0 : (this.request.count - this.sent) * messageBytes(this.request.payloadBytes ?? 0);
  }

  status(): LoadStatus {
    const status: LoadStatus = {
      version: CONTRACT_VERSION,
      loadId: this.id,
      state: this.state,
      sent: this.sent,
      unconfirmed: this.unconfirmed,
      total: this.request.count,
      rate: round(this.currentRate()),
      createdAt: this.createdAt.toISOString(),
    };
    if (this.request.rate !== undefined) status.requestedRate = this.request.rate;
    if (this.startedAt) status.startedAt = this.startedAt.toISOString();
    if (this.finishedAt) status.finishedAt = this.finishedAt.toISOString();
    if (this.error !== undefined) status.error = this.error;
    return status;
  }

  /** Recent rate while running; the average over the whole load once it has finished. */
  private currentRate(): number {
    if (this.state === 'pending') return 0;
    if (this.finished) {
      const seconds = (this.finishedMono - this.startedMono) / 1000;
      return seconds > 0 ? this.sent / seconds : 0;
    }
    return this.meter.rate(this.options.clock.now(), this.sent);
  }

  private async run(): Promise<LoadStatus> {
    // Let the caller register the load before anything can finish it.
    await Promise.resolve();
    const { clock, logger, observer, queue } = this.options;
    const signal = this.controller.signal;
    const plan = planMessages(this.id, this.request);
    const size = Math.min(
      batchSizeForRate(this.options.batchSize, this.request.rate),
      batchSizeForPayload(this.options.batchSize, this.request.payloadBytes ?? 0),
    );
    const bucket = this.request.rate === undefined ? undefined : new TokenBucket({ rate: this.request.rate, batch: size, clock });
    this.state = 'running';
    this.startedAt = new Date();
    this.startedMono = clock.now();
    this.meter.record(this.startedMono, 0);
    observer.loadStarted?.(this.status());
    logger.info({ loadId: this.id, queue: queue.queue, total: plan.count, rate: this.request.rate, batchSize: size }, 'load started');
    // A rate-limited load sends one batch at a time (the bucket spaces them); a full-speed load keeps
    // a few batches in flight so building, publishing and confirming overlap.
    const window = bucket ? 1 : Math.max(1, this.options.sendWindow ?? DEFAULT_SEND_WINDOW);
    // Stops retries of the other batches in flight once one batch has failed for good.
    const halt = new AbortController();
    const stopSignal = AbortSignal.any([signal, halt.signal]);
    const inFlight = new Set<Promise<void>>();
    let failure: { error: unknown } | undefined;
    let next = 0;
    while (next < plan.count && !stopSignal.aborted) {
      const n = Math.min(size, plan.count - next);
      if (bucket && !(await bucket.take(n, stopSignal))) break;
      const batch = buildBatch(plan, next, n, this.options.propertiesFor);
      next += n;
      const sending: Promise<void> = this.sendWithRetry(batch, stopSignal).then(
        (confirmed) => {
          if (!confirmed) return;
          // Both counters move together, so `sent + unconfirmed` never dips in a status read.
          this.unconfirmed -= batch.length;
          this.sent += batch.length;
          this.meter.record(clock.now(), this.sent);
        },
        (error: unknown) => {
          failure ??= { error };
          halt.abort();
        },
      );
      inFlight.add(sending);
      void sending.finally(() => inFlight.delete(sending));
      if (inFlight.size >= window) await Promise.race(inFlight);
      // A backend that confirms without I/O (embedded) would otherwise keep the loop to itself and
      // starve HTTP: status reads and DELETE must be served while a load runs.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    await Promise.all(inFlight);
    if (failure) this.finish('failed', failure.error);
    else this.finish(this.sent === plan.count ? 'completed' : 'cancelled');
    return this.status();
  }

  /**
   * Sends one batch; true once confirmed, false if the load was cancelled while waiting to retry.
   * A retryable failure (and any error that is not one of ours, since the budget bounds it) is
   * retried with backoff until `sendRetryMs` after the first failure; then the error is thrown.
   * Retries resend the same messages (same ids), so a consumer can recognise a duplicate.
   */
  private async sendWithRetry(batch: OutgoingMessage[], signal: AbortSignal): Promise<boolean> {
    const { clock, logger, observer, queue, sendRetryMs } = this.options;
    const attemptTimeoutMs = Math.max(1_000, this.options.sendTimeoutMs ?? sendRetryMs);
    let deadline: number | undefined;
    // From the first attempt until a confirm, the broker may hold this batch without having said so.
    this.unconfirmed += batch.length;
    for (let attempt = 0; ; attempt++) {
      const started = clock.now();
      try {
        await withTimeout(queue.send(batch), attemptTimeoutMs, `sending ${batch.length} messages to ${queue.queue}`);
        observer.batchConfirmed?.(batch.length, (clock.now() - started) / 1000);
        return true;
      } catch (error) {
        observer.sendFailed?.(error);
        deadline ??= started + sendRetryMs;
        const retryable = !isSurgeError(error) || error.retryable;
        const now = clock.now();
        if (!retryable || now >= deadline) throw error;
        const delay = Math.min(backoffDelay(attempt, 200, 5_000) + 50, deadline - now);
        logger.warn(
          {
            loadId: this.id,
            queue: queue.queue,
            attempt: attempt + 1,
            code: isSurgeError(error) ? error.code : undefined,
            err: errorMessage(error),
            retryInMs: Math.round(delay),
            sent: this.sent,
          },
          'send failed; retrying',
        );
        await clock.sleep(delay, signal);
        if (signal.aborted) return false;
      }
    }
  }

  private finish(state: 'completed' | 'failed' | 'cancelled', error?: unknown): void {
    this.state = state;
    this.finishedAt = new Date();
    this.finishedMono = this.options.clock.now();
    if (error !== undefined) this.error = `${isSurgeError(error) ? `${error.code}: ` : ''}${errorMessage(error)}`;
    const status = this.status();
    this.options.observer.loadFinished?.(status);
    const fields = {
      loadId: this.id,
      queue: this.options.queue.queue,
      state,
      sent: this.sent,
      unconfirmed: this.unconfirmed,
      total: this.request.count,
      rate: status.rate,
      error: this.error,
    };
    if (state === 'failed') this.options.logger.error(fields, 'load failed');
    else this.options.logger.info(fields, `load ${state}`);
  }
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
