import { describe, expect, it } from 'vitest';
import { accountRun } from '../src/index.ts';

describe('accountRun', () => {
  it('everything accounted for: sent = distinct results + dead letters, repeats of a result counted once', () => {
    const run = accountRun({ sent: 5, results: ['a', 'b', 'c', 'c'], duplicates: 1, deadLettered: ['d', 'e'] });
    expect(run).toEqual({
      accounting: { sent: 5, results: 3, duplicates: 1, deadLettered: 2, lost: 0 },
      deadLetteredAfterResult: 0,
      ok: true,
    });
  });

  it('a dead letter whose message has a result counts as a result only, so nothing is subtracted twice', () => {
    const run = accountRun({ sent: 4, results: ['a', 'b', 'c'], duplicates: 0, deadLettered: ['c', 'd'] });
    expect(run.accounting).toEqual({ sent: 4, results: 3, duplicates: 0, deadLettered: 1, lost: 0 });
    expect(run.deadLetteredAfterResult).toBe(1);
    expect(run.ok).toBe(true);
  });

  it('missing results are lost and the run is not ok', () => {
    const run = accountRun({ sent: 10, results: ['a', 'b'], duplicates: 3, deadLettered: ['x'] });
    expect(run.accounting.lost).toBe(7);
    expect(run.ok).toBe(false);
  });

  it('counts instead of ids (a dead-letter queue that cannot be read, or a simulator that keeps no ids)', () => {
    expect(accountRun({ sent: 100, results: 97, duplicates: 2, deadLettered: 3 })).toEqual({
      accounting: { sent: 100, results: 97, duplicates: 2, deadLettered: 3, lost: 0 },
      deadLetteredAfterResult: 0,
      ok: true,
    });
    expect(accountRun({ sent: 100, results: ['a'], duplicates: 0, deadLettered: 0 }).accounting.lost).toBe(99);
    // Ids of dead letters without ids of results: no overlap can be known, every dead letter counts.
    expect(accountRun({ sent: 3, results: 1, duplicates: 0, deadLettered: ['a', 'b'] }).accounting).toMatchObject({
      deadLettered: 2,
      lost: 0,
    });
  });
});
