export { createLogger, deliveryLogger, redactUrl, REDACTED_KEYS, type Logger, type LoggerOptions } from './logger.ts';
export { createRegistry, LATENCY_BUCKETS_SECONDS, Registry, Counter, Gauge, Histogram } from './metrics.ts';
export { startOpsServer, type OpsServer, type OpsServerOptions } from './ops-server.ts';
export { startTracing, readTracingEndpoint, noopTracer, type MessagingTracer, type Tracing, type TracingOptions, type TracedDelivery, type TracedMessage } from './tracing/tracer.ts';
