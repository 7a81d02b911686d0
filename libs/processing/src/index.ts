export {
  createProcessor,
  DeadLetterReasons,
  type Processor,
  type ProcessorOptions,
  type ProcessingReport,
  type ProcessingObserver,
  type Outcome,
} from './processor.ts';
export { simulateWork, WorkAbortedError, DEFAULT_CPU_SLICE_MS } from './simulate.ts';
export { outcomeFileObserver, combineObservers, type OutcomeFileObserver, type OutcomeRecord } from './outcomes.ts';
export { workerConfigFromEnv, type WorkerCommonConfig } from './config.ts';
export { WorkerExitCodes } from './exit-codes.ts';
