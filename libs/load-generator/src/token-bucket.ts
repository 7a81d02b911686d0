import type { Clock } from './clock.ts';

/**
 * The longest delay a Node timer holds: above it Node fires after 1 ms instead (and warns each
 * time), so a long wait is taken in steps of at most this.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A token bucket: tokens accrue at `rate` per second up to `capacity`; it starts with one batch.
 * Taking a whole batch at once keeps sends batched. The capacity (by default the larger of two
 * batches and 250 ms of the rate) absorbs late timers and short stalls on a busy machine without
 * losing tokens, yet a long stall (a broker restart) is never "caught up" with more than a small
 * burst: at most 2.5% of a 10 s window.
 */
export class TokenBucket {
  private readonly rate: number;
  private readonly capacity: number;
  private readonly clock: Clock;
  private tokens: number;
  private last: number;

  constructor(options: { rate: number; batch: number; capacity?: number; clock: Clock }) {
    if (!(options.rate > 0)) throw new RangeError('rate must be > 0');
    if (!(options.batch >= 1)) throw new RangeError('batch must be >= 1');
    this.rate = options.rate;
    this.capacity = Math.max(options.batch, options.capacity ?? Math.max(2 * options.batch, options.rate / 4));
    this.clock = options.clock;
    this.tokens = options.batch;
    this.last = options.clock.now();
  }

  /** Waits until `n` tokens are there and takes them. Resolves false (taking nothing) if `signal` aborts first. */
  async take(n: number, signal?: AbortSignal): Promise<boolean> {
    if (n > this.capacity) throw new RangeError(`cannot take ${n} tokens from a bucket of ${this.capacity}`);
    for (;;) {
      if (signal?.aborted) return false;
      this.refill();
      if (this.tokens >= n) {
        this.tokens -= n;
        return true;
      }
      // Timers may fire early or late; the next refill measures the real elapsed time, so the rate stays exact.
      await this.clock.sleep(Math.min(MAX_TIMER_MS, Math.max(1, ((n - this.tokens) / this.rate) * 1000)), signal);
    }
  }

  private refill(): void {
    const now = this.clock.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
  }
}

/**
 * Messages per batch for a rate-limited load: at most `batchSize`, and at most ~100 ms worth of the
 * rate, so a slow load sends small batches often instead of one large burst now and then.
 */
export function batchSizeForRate(batchSize: number, rate: number | undefined): number {
  if (rate === undefined) return batchSize;
  return Math.max(1, Math.min(batchSize, Math.floor(rate / 10)));
}
