/**
 * Configuration both workers share, parsed from an environment map the app passes in (apps' own
 * config modules are the only readers of `process.env`). Fails with one line naming the variable.
 */
import os from 'node:os';
import { readEnum, readOptionalString, readString, type Env } from '@surge/core';
import { queueConfigFromEnv, type QueueConfig } from '@surge/queue-adapters';
import { resultsConfigFromEnv, type ResultsConfig } from '@surge/results';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface WorkerCommonConfig {
  queue: QueueConfig;
  results: ResultsConfig;
  /** Written into every result and log line; the pod name in Kubernetes (WORKER_INSTANCE, default the hostname). */
  instance: string;
  logLevel: LogLevel;
  /** OTLP/HTTP endpoint; tracing is on when set. */
  otlpEndpoint: string | undefined;
}

export function workerConfigFromEnv(env: Env, options: { cwd?: string } = {}): WorkerCommonConfig {
  return {
    queue: queueConfigFromEnv(env, options),
    results: resultsConfigFromEnv(env, options),
    instance: readString(env, 'WORKER_INSTANCE', os.hostname()),
    logLevel: readEnum(env, 'LOG_LEVEL', LOG_LEVELS, 'info'),
    otlpEndpoint: readOptionalString(env, 'OTEL_EXPORTER_OTLP_ENDPOINT'),
  };
}
