/**
 * Time as the scaling engine sees it. keda-local runs on the wall clock; the simulator passes a
 * discrete-event clock whose timers fire when it advances virtual time, so the same control loop runs
 * a simulated hour in milliseconds. Nothing in the engine reads `Date.now` or calls `setTimeout`
 * except through a Clock.
 */

/** Cancels a scheduled callback; calling it after the callback ran (or twice) does nothing. */
export type CancelTimer = () => void;

export interface Clock {
  /** Milliseconds since the epoch (virtual for a simulated clock). */
  now(): number;
  /** Runs `callback` once, `ms` after now (0 or less: as soon as the clock runs timers). */
  after(ms: number, callback: () => void): CancelTimer;
}

/** Real time: `Date.now` and `setTimeout`. */
export const wallClock: Clock = {
  now: () => Date.now(),
  after(ms, callback) {
    const timer = setTimeout(callback, Math.max(0, ms));
    return () => clearTimeout(timer);
  },
};

/** Resolves `ms` later on `clock`; resolves early (not rejects) when `signal` aborts. */
export function sleepOn(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const onAbort = () => {
      cancel();
      resolve();
    };
    const cancel = clock.after(ms, () => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
