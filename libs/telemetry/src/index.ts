export {
  createLogger,
  deliveryLogger,
  redactUrl,
  REDACTED_KEYS,
  LOG_LEVELS,
  type LogLevel,
  type Logger,
  type LoggerOptions,
} from './logger.ts';
export { startTracing, readTracingEndpoint, noopTracer } from './tracing/tracer.ts';
export type { MessagingTracer, Tracing, TracingOptions, TracedDelivery, TracedMessage } from './tracing/types.ts';
