import { describe, expect, it } from 'vitest';
import type { LoadStatus } from '@surge/contracts';
import { RunEndDetector } from './run-end.ts';

const status = (state: LoadStatus['state'], sent: number, error?: string) =>
  ({ loadId: 'l', state, requested: sent, sent, failed: 0, ...(error ? { error } : {}) }) as unknown as LoadStatus;
const empty = { ready: 0, inFlight: 0, deadLettered: 0 };

describe('RunEndDetector', () => {
  it('ends as soon as the load completed, the queue is empty, everything idle and every message accounted for', () => {
    const d = new RunEndDetector(30_000);
    expect(d.observe({ now: 0, status: status('running', 10), depth: empty, results: 10, idle: true })).toBeUndefined();
    expect(
      d.observe({ now: 1000, status: status('completed', 10), depth: { ...empty, inFlight: 1 }, results: 9, idle: true }),
    ).toBeUndefined();
    expect(d.observe({ now: 2000, status: status('completed', 10), depth: empty, results: 10, idle: false })).toBeUndefined();
    expect(d.observe({ now: 3000, status: status('completed', 10), depth: empty, results: 9, idle: true })).toBeUndefined();
    expect(d.observe({ now: 4000, status: status('completed', 10), depth: { ...empty, deadLettered: 1 }, results: 9, idle: true })).toEqual(
      { ok: true, reason: 'queue drained and every workload back to zero' },
    );
  });

  it('an empty queue with results missing ends the run only after the settle window, counted from when it went quiet', () => {
    const d = new RunEndDetector(30_000);
    const quiet = (now: number) => d.observe({ now, status: status('completed', 10), depth: empty, results: 8, idle: true });
    expect(quiet(1000)).toBeUndefined();
    expect(quiet(20_000)).toBeUndefined();
    // A worker appears again: the window starts over.
    expect(d.observe({ now: 25_000, status: status('completed', 10), depth: empty, results: 8, idle: false })).toBeUndefined();
    expect(quiet(26_000)).toBeUndefined();
    expect(quiet(55_999)).toBeUndefined();
    expect(quiet(56_000)).toMatchObject({ ok: true });
  });

  it('a failed load ends the run as not ok, naming the state and the error; without a status nothing ends', () => {
    const d = new RunEndDetector(0);
    expect(d.observe({ now: 0, status: undefined, depth: empty, results: 0, idle: true })).toBeUndefined();
    expect(d.observe({ now: 1, status: status('failed', 3, 'broker gone'), depth: empty, results: 3, idle: true })).toEqual({
      ok: false,
      reason: 'the load ended failed: broker gone',
    });
  });
});
