/** The tracing interface, free of OpenTelemetry: both the no-op path and the OpenTelemetry backend implement it. */

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
  send<T>(
    queue: string,
    messages: readonly TracedMessage[],
    send: (propertiesFor: (id: string) => Record<string, string>) => Promise<T>,
  ): Promise<T>;
  /** Wraps a receive call (worker-job): a `receive` span. */
  receive<T>(queue: string, receive: () => Promise<T>): Promise<T>;
  /** Runs `work` inside a `process` span that continues the producer's trace. */
  process<T>(delivery: TracedDelivery, work: () => Promise<T>): Promise<T>;
  /** `trace_id`/`span_id` of the active span, for log lines; empty when none. */
  logFields(): Record<string, string>;
}

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
