/**
 * The worker-deployment's configuration: the only module that reads `process.env`. Every value is
 * checked at start; a bad one stops the process with one line naming the variable (exit code 2).
 */
import { readInteger, readString, type Env } from '@surge/core';
import { workerConfigFromEnv, type WorkerCommonConfig } from '@surge/processing';

export interface DeploymentConfig extends WorkerCommonConfig {
  /** Port of `/livez`, `/readyz`, `/metrics`. */
  port: number;
  host: string;
  /** Messages processed at once (and the broker prefetch unless RABBITMQ_PREFETCH says otherwise). */
  concurrency: number;
  /** After SIGTERM, how long in-flight work may finish before it is abandoned. Keep below terminationGracePeriodSeconds. */
  drainTimeoutMs: number;
}

export function loadConfig(env: Env = process.env, options: { cwd?: string } = {}): DeploymentConfig {
  return {
    ...workerConfigFromEnv(env, options),
    port: readInteger(env, 'PORT', { fallback: 8080, min: 0, max: 65535 }),
    host: readString(env, 'HOST', '0.0.0.0'),
    concurrency: readInteger(env, 'CONCURRENCY', { fallback: 4, min: 1, max: 1000 }),
    drainTimeoutMs: readInteger(env, 'DRAIN_TIMEOUT_MS', { fallback: 25_000, min: 0, max: 3600_000 }),
  };
}
