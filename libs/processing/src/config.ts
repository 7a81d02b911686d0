/**
 * Configuration both workers share, parsed from an environment map the app passes in (apps' own
 * config modules are the only readers of `process.env`). Fails with one line naming the variable.
 */
import os from 'node:os';
import path from 'node:path';
import { readEnum, readOptionalString, readString, type Env } from '@surge/core';
import { queueConfigFromEnv, type QueueConfig } from '@surge/queue-adapters';
import { resultsConfigFromEnv, type ResultsConfig } from '@surge/results';
import { LOG_LEVELS, type LogLevel } from '@surge/telemetry';

export interface WorkerCommonConfig {
  queue: QueueConfig;
  results: ResultsConfig;
  /** Written into every result and log line; the pod name in Kubernetes (WORKER_INSTANCE, default the hostname). */
  instance: string;
  logLevel: LogLevel;
  /** OTLP/HTTP endpoint; tracing is on when set. */
  otlpEndpoint: string | undefined;
  /** OUTCOMES_DIR: an existing folder where each delivery's outcome is appended (keda-local counts duplicates from it); unset: none. */
  outcomesDir: string | undefined;
}

export function workerConfigFromEnv(env: Env, options: { cwd?: string } = {}): WorkerCommonConfig {
  const outcomesDir = readOptionalString(env, 'OUTCOMES_DIR');
  return {
    queue: queueConfigFromEnv(env, options),
    results: resultsConfigFromEnv(env, options),
    instance: readString(env, 'WORKER_INSTANCE', os.hostname()),
    logLevel: readEnum(env, 'LOG_LEVEL', LOG_LEVELS, 'info'),
    otlpEndpoint: readOptionalString(env, 'OTEL_EXPORTER_OTLP_ENDPOINT'),
    outcomesDir: outcomesDir === undefined ? undefined : path.resolve(options.cwd ?? process.cwd(), outcomesDir),
  };
}
