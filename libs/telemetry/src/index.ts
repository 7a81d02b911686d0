export { createLogger, deliveryLogger, redactUrl, REDACTED_KEYS, type Logger, type LoggerOptions } from './logger.ts';
export { startTracing, readTracingEndpoint, noopTracer, type MessagingTracer, type Tracing, type TracingOptions, type TracedDelivery, type TracedMessage } from './tracing/tracer.ts';
