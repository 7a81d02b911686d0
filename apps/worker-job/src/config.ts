/**
 * The worker-job's configuration: the only module that reads `process.env`. Every value is checked
 * at start; a bad one stops the process with one line naming the variable (exit code 2).
 */
import { readInteger, type Env } from '@surge/core';
import { workerConfigFromEnv, type WorkerCommonConfig } from '@surge/processing';

export interface JobConfig extends WorkerCommonConfig {
  /** Messages taken per run (each processed, then the process exits). */
  receiveCount: number;
  /** How long to wait for the first message before exiting 0 on an empty queue. */
  receiveWaitMs: number;
}

export function loadConfig(env: Env = process.env, options: { cwd?: string } = {}): JobConfig {
  return {
    ...workerConfigFromEnv(env, options),
    receiveCount: readInteger(env, 'RECEIVE_COUNT', { fallback: 1, min: 1, max: 256 }),
    receiveWaitMs: readInteger(env, 'RECEIVE_WAIT_MS', { fallback: 5000, min: 0, max: 600_000 }),
  };
}
