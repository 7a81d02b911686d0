export {
  LoadId,
  MessageId,
  Timestamp,
  WorkSpec,
  WorkMessage,
  LoadRequest,
  LoadState,
  LoadStatus,
  WorkerKind,
  WorkResult,
} from './schemas.ts';
export {
  type FieldError,
  type Validation,
  validate,
  validateLoadRequest,
  decodeWorkMessage,
  encodeWorkMessage,
  formatFieldErrors,
  DEFAULT_WORK,
} from './validate.ts';
export {
  MAX_PAYLOAD_BYTES,
  MAX_LOAD_COUNT,
  MAX_RATE_PER_SECOND,
  MIN_RATE_PER_SECOND,
  MAX_WORK_DURATION_MS,
  CONTRACT_VERSION,
} from './limits.ts';
