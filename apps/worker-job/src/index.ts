export { runJob, ExitCodes, type ExitCode, type JobOptions, type JobOutcome } from './app.ts';
export { loadConfig, type JobConfig } from './config.ts';
