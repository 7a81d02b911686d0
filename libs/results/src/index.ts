export type { ResultsKind, WriteOutcome, ResultKey, ResultSink, SinkOptions } from './types.ts';
export { ResultError, ResultErrorCodes, isResultError, type ResultErrorCode, type ResultErrorKind } from './errors.ts';
export {
  type ResultsConfig,
  type LocalResultsConfig,
  type BlobResultsConfig,
  RESULTS_KINDS,
  DEFAULT_RESULTS_CONTAINER,
  resultsConfigFromEnv,
  checkStorageConnectionString,
} from './config.ts';
export { resultName, parseResultName } from './names.ts';
export { createResultSink } from './factory.ts';
