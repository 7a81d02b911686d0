/**
 * The exporter's configuration: the only module that reads `process.env`. Every value is checked at
 * start; a bad one stops the process with one line naming the variable (exit code 2). Unreachable
 * nginx or broker is not a configuration error: the exporter starts anyway and reports `up 0`.
 */
import { ConfigError, loadConfigOrExit, readEnum, readInteger, readOptionalString, readString, type Env } from '@surge/core';
import { queueConfigFromEnv, readQueueName, type QueueConfig } from '@surge/queue-adapters';
import { stubStatusLabel } from '@surge/nginx-metrics';
import { LOG_LEVELS, type LogLevel } from '@surge/telemetry';

/** Short secrets are guessable; a UUID or `openssl rand -hex 32` is the expected kind of value. */
export const MIN_SECRET_LENGTH = 16;

export interface ExporterConfig {
  host: string;
  port: number;
  /** stub_status URLs; empty = no nginx series at all. */
  nginxStatusUrls: string[];
  nginxTimeoutMs: number;
  /** Labels on every series. */
  constLabels: Record<string, string>;
  /** Queues whose depth is exported and served by the metrics API. */
  queues: string[];
  depthCacheMs: number;
  depthTimeoutMs: number;
  /** Bearer token for `GET /api/v1/queues/:name` (KEDA `authMode: bearer`). */
  metricsApiToken: string | undefined;
  /** API key for the same route, header `X-API-Key` (KEDA `authMode: apiKey`). */
  metricsApiKey: string | undefined;
  shutdownGraceMs: number;
  logLevel: LogLevel;
  /** Backend and connection settings; `queue.queue` is QUEUE_NAME, each exported queue reuses the rest. */
  queue: QueueConfig;
}

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const RESERVED_LABELS = ['addr', 'queue', 'outcome'];

function list(env: Env, name: string): string[] {
  return (readOptionalString(env, name) ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

function readStatusUrls(env: Env): string[] {
  const urls = list(env, 'NGINX_STATUS_URL');
  for (const text of urls) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new ConfigError(
        'NGINX_STATUS_URL',
        'comma-separated http(s) URLs of stub_status pages, like http://127.0.0.1:8080/stub_status',
        'a value that is not a URL',
      );
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new ConfigError('NGINX_STATUS_URL', 'comma-separated http(s) URLs of stub_status pages', `protocol ${url.protocol}`);
  }
  // Compared without credentials and after URL parsing: two entries for one page would get the same
  // `addr` label (credentials are never put in a label), so one nginx_up series would stand for both.
  const seen = new Set<string>();
  for (const text of urls) {
    const label = stubStatusLabel(text);
    if (seen.has(label))
      throw new ConfigError('NGINX_STATUS_URL', 'each stub_status URL once (compared without user:pass@)', `${label} more than once`);
    seen.add(label);
  }
  return urls;
}

export function parseConstLabels(text: string | undefined): Record<string, string> {
  const labels: Record<string, string> = {};
  const expected = 'comma-separated name=value pairs, names like [a-zA-Z_][a-zA-Z0-9_]* (e.g. cluster=eks,team=web)';
  for (const pair of (text ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '')) {
    const eq = pair.indexOf('=');
    const name = eq < 0 ? pair : pair.slice(0, eq).trim();
    const value = eq < 0 ? '' : pair.slice(eq + 1).trim();
    if (eq < 0 || !LABEL_NAME.test(name) || name.startsWith('__'))
      throw new ConfigError('EXPORTER_CONST_LABELS', expected, JSON.stringify(pair));
    if (RESERVED_LABELS.includes(name))
      throw new ConfigError(
        'EXPORTER_CONST_LABELS',
        `a label name other than ${RESERVED_LABELS.join(', ')} (the exporter sets those)`,
        JSON.stringify(name),
      );
    if (name in labels) throw new ConfigError('EXPORTER_CONST_LABELS', 'each label name once', JSON.stringify(name));
    labels[name] = value;
  }
  return labels;
}

function readSecret(env: Env, name: string): string | undefined {
  const value = readOptionalString(env, name);
  if (value !== undefined && value.length < MIN_SECRET_LENGTH)
    throw new ConfigError(name, `at least ${MIN_SECRET_LENGTH} characters`, `${value.length} characters`);
  return value;
}

export function loadConfig(env: Env = process.env): ExporterConfig {
  const queue = queueConfigFromEnv(env);
  const queueNames = list(env, 'EXPORTER_QUEUES').map((name) => readQueueName({ EXPORTER_QUEUES: name }, 'EXPORTER_QUEUES'));
  return {
    host: readString(env, 'HOST', '0.0.0.0'),
    port: readInteger(env, 'PORT', { fallback: 9113, min: 0, max: 65535 }),
    nginxStatusUrls: readStatusUrls(env),
    nginxTimeoutMs: readInteger(env, 'NGINX_STATUS_TIMEOUT_MS', { fallback: 5_000, min: 100, max: 60_000 }),
    constLabels: parseConstLabels(readOptionalString(env, 'EXPORTER_CONST_LABELS')),
    queues: queueNames.length > 0 ? [...new Set(queueNames)] : [queue.queue],
    depthCacheMs: readInteger(env, 'DEPTH_CACHE_MS', { fallback: 5_000, min: 0, max: 3600_000 }),
    depthTimeoutMs: readInteger(env, 'DEPTH_TIMEOUT_MS', { fallback: 5_000, min: 100, max: 60_000 }),
    metricsApiToken: readSecret(env, 'METRICS_API_TOKEN'),
    metricsApiKey: readSecret(env, 'METRICS_API_KEY'),
    shutdownGraceMs: readInteger(env, 'SHUTDOWN_GRACE_MS', { fallback: 5_000, min: 500, max: 3600_000 }),
    logLevel: readEnum(env, 'LOG_LEVEL', LOG_LEVELS, 'info'),
    queue,
  };
}

export function loadConfigFromProcess(): ExporterConfig {
  return loadConfigOrExit(() => loadConfig(process.env));
}
