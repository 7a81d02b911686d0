/**
 * The producer's configuration: the only module that reads `process.env`. Every value is checked at
 * start; a bad one stops the process with one line naming the variable (exit code 2).
 */
import { ConfigError, loadConfigOrExit, readBoolean, readEnum, readInteger, readOptionalString, readString, type Env } from '@surge/core';
import { queueConfigFromEnv, type QueueConfig } from '@surge/queue-adapters';
import { LOG_LEVELS, readTracingEndpoint, type LogLevel } from '@surge/telemetry';

/** Short tokens are guessable; a UUID or `openssl rand -hex 32` is the expected kind of value. */
export const MIN_TOKEN_LENGTH = 16;

const GIB = 1024 ** 3;

export interface ProducerConfig {
  host: string;
  port: number;
  /** Bearer token for the load routes (reads included); undefined only when auth is explicitly disabled. */
  token: string | undefined;
  authDisabled: boolean;
  maxConcurrentLoads: number;
  batchSize: number;
  bodyLimitBytes: number;
  sendRetryMs: number;
  /** Largest estimated size of one load on the queue (count × (payloadBytes + envelope)). */
  maxLoadBytes: number;
  /** Free space the embedded queue's filesystem must keep after every running load and the new one. */
  minFreeBytes: number;
  /** Longest a whole request (headers and body) may take to arrive; then 408 and the connection is closed. */
  requestTimeoutMs: number;
  /** Longest the request headers may take to arrive (at most requestTimeoutMs). */
  headersTimeoutMs: number;
  shutdownGraceMs: number;
  logLevel: LogLevel;
  /** OTLP/HTTP endpoint; tracing is on exactly when it is set. */
  otlpEndpoint: string | undefined;
  queue: QueueConfig;
}

export function loadConfig(env: Env = process.env): ProducerConfig {
  const authDisabled = readBoolean(env, 'PRODUCER_AUTH_DISABLED', false);
  const token = readOptionalString(env, 'PRODUCER_TOKEN');
  if (!authDisabled) {
    if (token === undefined)
      throw new ConfigError('PRODUCER_TOKEN', 'a bearer token for the load routes (or PRODUCER_AUTH_DISABLED=true to run without auth)');
    if (token.length < MIN_TOKEN_LENGTH)
      throw new ConfigError('PRODUCER_TOKEN', `at least ${MIN_TOKEN_LENGTH} characters`, `${token.length} characters`);
  }
  const requestTimeoutMs = readInteger(env, 'PRODUCER_REQUEST_TIMEOUT_MS', { fallback: 10_000, min: 100, max: 600_000 });
  return {
    host: readString(env, 'HOST', '0.0.0.0'),
    port: readInteger(env, 'PORT', { fallback: 8080, min: 0, max: 65535 }),
    token: authDisabled ? undefined : token,
    authDisabled,
    maxConcurrentLoads: readInteger(env, 'PRODUCER_MAX_CONCURRENT_LOADS', { fallback: 4, min: 1, max: 1000 }),
    batchSize: readInteger(env, 'PRODUCER_BATCH_SIZE', { fallback: 100, min: 1, max: 5000 }),
    bodyLimitBytes: readInteger(env, 'PRODUCER_BODY_LIMIT_BYTES', { fallback: 65536, min: 1024, max: 10 * 1024 * 1024 }),
    sendRetryMs: readInteger(env, 'PRODUCER_SEND_RETRY_MS', { fallback: 30_000, min: 0, max: 3600_000 }),
    maxLoadBytes: readInteger(env, 'PRODUCER_MAX_LOAD_BYTES', { fallback: 2 * GIB, min: 1024 }),
    minFreeBytes: readInteger(env, 'PRODUCER_MIN_FREE_BYTES', { fallback: GIB, min: 0 }),
    requestTimeoutMs,
    headersTimeoutMs: readInteger(env, 'PRODUCER_HEADERS_TIMEOUT_MS', {
      fallback: Math.min(5_000, requestTimeoutMs),
      min: 100,
      max: requestTimeoutMs,
    }),
    shutdownGraceMs: readInteger(env, 'SHUTDOWN_GRACE_MS', { fallback: 20_000, min: 1000, max: 3600_000 }),
    logLevel: readEnum(env, 'LOG_LEVEL', LOG_LEVELS, 'info'),
    otlpEndpoint: readTracingEndpoint(env),
    queue: queueConfigFromEnv(env),
  };
}

export function loadConfigFromProcess(): ProducerConfig {
  return loadConfigOrExit(() => loadConfig(process.env));
}
