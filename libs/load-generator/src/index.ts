export { LoadRegistry, canonicalJson, type LoadRegistryOptions, type StartResult } from './registry.ts';
export { Load, DEFAULT_SEND_WINDOW, type LoadObserver, type LoadRunOptions } from './load.ts';
export { LoadError, LoadErrorCodes, type LoadErrorCode } from './errors.ts';
export { TokenBucket, batchSizeForRate, MAX_TIMER_MS } from './token-bucket.ts';
export { RateMeter } from './rate-meter.ts';
export { systemClock, type Clock } from './clock.ts';
export {
  buildMessage,
  buildBatch,
  planMessages,
  batchSizeForPayload,
  messageBytes,
  loadBytes,
  noProperties,
  MAX_BATCH_BYTES,
  type MessagePlan,
  type PropertiesFor,
} from './messages.ts';
