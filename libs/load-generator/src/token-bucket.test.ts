import { describe, expect, it } from 'vitest';
import type { Clock } from './clock.ts';
import { RateMeter } from './rate-meter.ts';
import { MAX_TIMER_MS, TokenBucket, batchSizeForRate } from './token-bucket.ts';

/** Virtual time: sleeping advances the clock, optionally by a little more (a late timer). */
function fakeClock(lateMs = 0): Clock & { t: number } {
  const clock = {
    t: 0,
    now: () => clock.t,
    sleep: async (ms: number) => {
      clock.t += ms + lateMs;
    },
  };
  return clock;
}

describe('token bucket', () => {
  it.each([0, 3, 20])('holds the rate over a 10 s window with timers %i ms late', async (lateMs) => {
    const clock = fakeClock(lateMs);
    const bucket = new TokenBucket({ rate: 250, batch: 25, clock });
    let taken = 0;
    while (clock.now() < 10_000) {
      await bucket.take(25);
      taken += 25;
    }
    // One batch at the start, then the rate: a late timer must not lose tokens.
    expect(taken).toBeGreaterThanOrEqual(2_500 * 0.99);
    expect(taken).toBeLessThanOrEqual(2_500 + 25 + 25);
  });

  it('never bursts to catch up after a stall', async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket({ rate: 100, batch: 10, clock });
    await bucket.take(10);
    clock.t += 60_000; // a minute of broker outage
    let taken = 0;
    const start = clock.now();
    while (clock.now() - start < 1_000) {
      await bucket.take(10);
      taken += 10;
    }
    // At most the bucket (250 ms of the rate, or two batches) on top of the rate.
    expect(taken).toBeLessThanOrEqual(100 + Math.max(2 * 10, 100 / 4) + 10);
  });

  it('gives up waiting when aborted', async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket({ rate: 1, batch: 5, capacity: 5, clock });
    expect(await bucket.take(5)).toBe(true);
    const controller = new AbortController();
    controller.abort();
    expect(await bucket.take(5, controller.signal)).toBe(false);
    await expect(bucket.take(6)).rejects.toThrow(RangeError);
  });

  it('never asks for a timer longer than a Node timer holds, however slow the rate', async () => {
    const clock = fakeClock();
    const waits: number[] = [];
    const sleep = clock.sleep;
    clock.sleep = async (ms: number) => {
      waits.push(ms);
      await sleep(ms);
    };
    // 4e-7 msg/s: one token every ~29 days, past the 2^31-1 ms (~24.8 days) a timer can wait.
    const bucket = new TokenBucket({ rate: 4e-7, batch: 1, capacity: 1, clock });
    expect(await bucket.take(1)).toBe(true);
    expect(await bucket.take(1)).toBe(true);
    expect(waits.length).toBeGreaterThanOrEqual(2);
    for (const ms of waits) expect(ms).toBeLessThanOrEqual(MAX_TIMER_MS);
    expect(clock.now()).toBeGreaterThanOrEqual((1 / 4e-7) * 1000 - 1);
  });

  it('sizes batches to ~100 ms of the rate', () => {
    expect(batchSizeForRate(100, undefined)).toBe(100);
    expect(batchSizeForRate(100, 200)).toBe(20);
    expect(batchSizeForRate(100, 5)).toBe(1);
    expect(batchSizeForRate(100, 50_000)).toBe(100);
  });
});

describe('rate meter', () => {
  it('reports the rate over its window', () => {
    const meter = new RateMeter(1_000);
    for (let t = 0; t <= 3_000; t += 100) meter.record(t, t * 2); // 2,000 msg/s
    expect(meter.rate(3_000, 6_000)).toBeCloseTo(2_000);
    // Nothing sent for 2 s: the window sees it.
    expect(meter.rate(5_000, 6_000)).toBe(0);
  });
});
