/**
 * The worker-job's configuration: the only module that reads `process.env`. Every value is checked
 * at start; a bad one stops the process with one line naming the variable (exit code 2).
 */
import { ConfigError, readInteger, readOptionalString, type Env } from '@surge/core';
import { workerConfigFromEnv, type WorkerCommonConfig } from '@surge/processing';

export interface JobConfig extends WorkerCommonConfig {
  /** Messages taken per run (each processed, then the process exits). */
  receiveCount: number;
  /** How long to wait for the first message before exiting 0 on an empty queue. */
  receiveWaitMs: number;
  /**
   * The run's work budget, counted from the process's own start (after scheduling, image pull and
   * container start): when it passes, the work stops, the message is abandoned and the run exits 6.
   */
  workDeadlineMs: number;
}

/**
 * Default work deadline: the lock renewal (`QUEUE_MAX_PROCESSING_MS`) minus a margin of 60 s (or a
 * tenth of it, if that is smaller) for writing the result, settling and closing while the lock is
 * still renewed. With the default 16 min renewal: 15 min.
 */
export function defaultWorkDeadlineMs(maxProcessingMs: number): number {
  return maxProcessingMs - Math.min(60_000, Math.floor(maxProcessingMs / 10));
}

export function loadConfig(env: Env = process.env, options: { cwd?: string } = {}): JobConfig {
  const common = workerConfigFromEnv(env, options);
  const maxProcessingMs = common.queue.maxProcessingMs;
  // The deadline must end inside the lock renewal: past it the broker hands the message to another
  // worker while this one is still working on it (a duplicate run, then a lost lock on settle).
  const expected = `an integer from 1000 to ${maxProcessingMs} (at most QUEUE_MAX_PROCESSING_MS, the lock renewal)`;
  const text = readOptionalString(env, 'WORK_DEADLINE_MS');
  let workDeadlineMs = defaultWorkDeadlineMs(maxProcessingMs);
  if (text !== undefined) {
    if (!/^\d+$/.test(text)) throw new ConfigError('WORK_DEADLINE_MS', expected, JSON.stringify(text));
    workDeadlineMs = Number(text);
    if (workDeadlineMs < 1000 || workDeadlineMs > maxProcessingMs) throw new ConfigError('WORK_DEADLINE_MS', expected, text);
  }
  return {
    ...common,
    receiveCount: readInteger(env, 'RECEIVE_COUNT', { fallback: 1, min: 1, max: 256 }),
    receiveWaitMs: readInteger(env, 'RECEIVE_WAIT_MS', { fallback: 5000, min: 0, max: 600_000 }),
    workDeadlineMs,
  };
}
