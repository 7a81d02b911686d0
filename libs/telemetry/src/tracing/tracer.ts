/**
 * Message tracing as Surge uses it: the producer creates one span per message and carries its W3C
 * trace context in the message's transport properties; a worker continues that trace in its
 * process span. The interface here has no OpenTelemetry import: with tracing off (no
 * OTEL_EXPORTER_OTLP_ENDPOINT) the no-op tracer is used and no OpenTelemetry module is ever loaded,
 * so a one-message worker pod does not pay for it at start-up.
 */

import { readOptionalString, readUrl, type Env } from '@surge/core';
import type { MessagingTracer, Tracing, TracingOptions } from './types.ts';

/** OTEL_EXPORTER_OTLP_ENDPOINT, validated: tracing is on exactly when it is set. */
export function readTracingEndpoint(env: Env): string | undefined {
  if (readOptionalString(env, 'OTEL_EXPORTER_OTLP_ENDPOINT') === undefined) return undefined;
  return readUrl(env, 'OTEL_EXPORTER_OTLP_ENDPOINT', ['http:', 'https:']).toString();
}

export const noopTracer: MessagingTracer = {
  enabled: false,
  send: (_queue, _messages, send) => send(() => ({})),
  receive: (_queue, receive) => receive(),
  process: (_delivery, work) => work(),
  logFields: () => ({}),
};

/**
 * Starts OpenTelemetry when an endpoint (or a test exporter) is given; otherwise returns the no-op
 * tracer without importing any OpenTelemetry package.
 */
export async function startTracing(options: TracingOptions): Promise<Tracing> {
  if (!options.endpoint && !options.spanExporter) return { tracer: noopTracer, flush: async () => {}, shutdown: async () => {} };
  const { startOpenTelemetry } = await import('./otel.ts');
  return startOpenTelemetry(options);
}
