/**
 * Message tracing as Surge uses it: the producer creates one span per message and carries its W3C
 * trace context in the message's transport properties; a worker continues that trace in its
 * process span. The interface here has no OpenTelemetry import: with tracing off (no
 * OTEL_EXPORTER_OTLP_ENDPOINT) the no-op tracer is used and no OpenTelemetry module is ever loaded,
 * so a one-message worker pod does not pay for it at start-up.
 */

import { readOptionalString, readUrl, type Env } from '@surge/core';

/** OTEL_EXPORTER_OTLP_ENDPOINT, validated: tracing is on exactly when it is set. */
export function readTracingEndpoint(env: Env): string | undefined {
  if (readOptionalString(env, 'OTEL_EXPORTER_OTLP_ENDPOINT') === undefined) return undefined;
  return readUrl(env, 'OTEL_EXPORTER_OTLP_ENDPOINT', ['http:', 'https:']).toString();
}

export interface TracedMessage {
  id: string;
}

export interface TracedDelivery {
  id: string;
  queue: string;
  properties: Readonly<Record<string, string>>;
  deliveryCount: number;
}

export interface MessagingTracer {
  readonly enabled: boolean;
  /**
   * Wraps sending one batch: a `send` span for the batch and a `create` span per message, whose
   * context `propertiesFor(id)` returns as transport properties (`traceparent`, `tracestate`).
   */
  send<T>(queue: string, messages: readonly TracedMessage[], send: (propertiesFor: (id: string) => Record<string, string>) => Promise<T>): Promise<T>;
  /** Wraps a receive call (worker-job): a `receive` span. */
  receive<T>(queue: string, receive: () => Promise<T>): Promise<T>;
  /** Runs `work` inside a `process` span that continues the producer's trace. */
  process<T>(delivery: TracedDelivery, work: () => Promise<T>): Promise<T>;
  /** `trace_id`/`span_id` of the active span, for log lines; empty when none. */
  logFields(): Record<string, string>;
}

export const noopTracer: MessagingTracer = {
  enabled: false,
  send: (_queue, _messages, send) => send(() => ({})),
  receive: (_queue, receive) => receive(),
  process: (_delivery, work) => work(),
  logFields: () => ({}),
};

export interface TracingOptions {
  serviceName: string;
  /** OTLP/HTTP endpoint (OTEL_EXPORTER_OTLP_ENDPOINT). */
  endpoint?: string;
  /** Messaging system name for `messaging.system` (`rabbitmq`, `servicebus`, `embedded`). */
  system: string;
  /** Tests pass an in-memory exporter instead of an endpoint. */
  spanExporter?: unknown;
}

export interface Tracing {
  tracer: MessagingTracer;
  /** Exports every finished span now. */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

/**
 * Starts OpenTelemetry when an endpoint (or a test exporter) is given; otherwise returns the no-op
 * tracer without importing any OpenTelemetry package.
 */
export async function startTracing(options: TracingOptions): Promise<Tracing> {
  if (!options.endpoint && !options.spanExporter) return { tracer: noopTracer, flush: async () => {}, shutdown: async () => {} };
  const { startOpenTelemetry } = await import('./otel.ts');
  return startOpenTelemetry(options);
}
