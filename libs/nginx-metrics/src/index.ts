export {
  parseStubStatus,
  fetchStubStatus,
  stubStatusLabel,
  stubStatusTarget,
  MAX_STUB_STATUS_BYTES,
  type StubStatus,
  type StubStatusTarget,
  type FetchStubStatusOptions,
} from './stub-status.ts';
export { createNginxCollector, TARGET_LABEL, type NginxCollector, type NginxCollectorOptions, type StubStatusReader } from './collector.ts';
export {
  NginxStatusError,
  NginxStatusErrorCodes,
  isNginxStatusError,
  type NginxStatusErrorCode,
  type NginxStatusErrorKind,
} from './errors.ts';
