export {
  createProcessor,
  describe,
  DeadLetterReasons,
  type Processor,
  type ProcessorOptions,
  type ProcessingReport,
  type ProcessingObserver,
  type Outcome,
} from './processor.ts';
export { simulateWork, WorkAbortedError, DEFAULT_CPU_SLICE_MS } from './simulate.ts';
export { workerConfigFromEnv, LOG_LEVELS, type LogLevel, type WorkerCommonConfig } from './config.ts';
