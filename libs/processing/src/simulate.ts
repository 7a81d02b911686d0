/**
 * The work a message asks for. `wait` sleeps; `cpu` burns CPU in short slices and yields to the
 * event loop between them (setImmediate runs after the timers and I/O phases), so AMQP heartbeats,
 * lock and lease renewal, `/livez` and `/metrics` keep being served while a message is "busy"
 * (a blocked loop misses AMQP heartbeats, the broker drops the connection and later acks fail).
 * Slicing was chosen over a worker thread: no thread start-up on the one-message job's hot path, no
 * extra memory per pod, and the same behaviour a real CPU-bound handler would need anyway.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { sleep } from '@surge/core';
import type { WorkSpec } from '@surge/contracts';

/** Longest the loop is held at once: far below heartbeat (≥ 5 s) and renewal intervals. */
export const DEFAULT_CPU_SLICE_MS = 10;

export class WorkAbortedError extends Error {
  constructor() {
    super('work aborted: the worker is shutting down');
    this.name = 'WorkAbortedError';
  }
}

/** Resolves when the simulated work is done; rejects with WorkAbortedError as soon as `signal` aborts. */
export async function simulateWork(
  work: Pick<WorkSpec, 'durationMs' | 'mode'>,
  signal: AbortSignal | undefined,
  sliceMs = DEFAULT_CPU_SLICE_MS,
): Promise<void> {
  if (signal?.aborted) throw new WorkAbortedError();
  if (work.durationMs <= 0) return;
  if (work.mode === 'wait') {
    await sleep(work.durationMs, signal);
  } else {
    let burned = 0;
    let sink = 0;
    while (burned < work.durationMs) {
      const sliceEnd = performance.now() + Math.min(sliceMs, work.durationMs - burned);
      const start = performance.now();
      while (performance.now() < sliceEnd) sink = (sink * 31 + 7) % 1_000_003;
      burned += performance.now() - start;
      await yieldToEventLoop();
      if (signal?.aborted) throw new WorkAbortedError();
    }
    // Keeps the loop body observable so it is not optimised away.
    if (sink < 0) throw new Error('unreachable');
  }
  if (signal?.aborted) throw new WorkAbortedError();
}
