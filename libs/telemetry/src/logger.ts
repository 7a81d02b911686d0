/**
 * pino JSON to stdout (pretty printing is left to the reader's tools, never switched by NODE_ENV).
 * Secrets are redacted by key wherever they appear in a log object, and the helpers below bind
 * message id and queue so every line about a delivery can be found by either.
 */
import { pino, type Logger, type LevelWithSilent, type DestinationStream } from 'pino';

export type { Logger };

/** The values LOG_LEVEL accepts in every app (pino's levels); config modules read it with `readEnum`. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const satisfies readonly LevelWithSilent[];
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Keys that may hold credentials; their values are replaced before a line is written. */
export const REDACTED_KEYS = [
  'connectionString',
  'url',
  'managementUrl',
  'password',
  'token',
  'authorization',
  'accountKey',
  'sharedAccessKey',
  'secret',
] as const;

const redactPaths = REDACTED_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`]).concat([
  'req.headers.authorization',
  'headers.authorization',
]);

export interface LoggerOptions {
  name: string;
  level?: LevelWithSilent;
  /** Fields bound to every line (app, instance). */
  base?: Record<string, unknown>;
  /** Where lines go; stdout by default. Tests pass an in-memory stream. */
  destination?: DestinationStream;
  /** Extra fields per line, e.g. the active span's `trace_id`/`span_id` (MessagingTracer.logFields). */
  mixin?: () => Record<string, unknown>;
}

export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      name: options.name,
      level: options.level ?? 'info',
      base: { app: options.name, ...options.base },
      redact: { paths: redactPaths, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      ...(options.mixin ? { mixin: options.mixin } : {}),
    },
    options.destination,
  );
}

/** A child logger for one delivery: every line carries the message id and the queue, never the body. */
export function deliveryLogger(logger: Logger, delivery: { id: string; queue: string; deliveryCount?: number }): Logger {
  return logger.child({ messageId: delivery.id, queue: delivery.queue, deliveryCount: delivery.deliveryCount });
}

/** Removes user:password from a URL so it can be logged. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.username || parsed.password) {
      parsed.username = parsed.username ? '***' : '';
      parsed.password = parsed.password ? '***' : '';
    }
    return parsed.toString();
  } catch {
    return '[unparseable url]';
  }
}
