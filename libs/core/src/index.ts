export { SurgeError, ConfigError, isSurgeError, errorMessage, errorGuard, type ErrorCodeSpec } from './errors.ts';
export { type Env, readString, readOptionalString, readEnum, readInteger, readBoolean, readUrl, loadConfigOrExit } from './env.ts';
export { sleep, withTimeout, backoffDelay, TimeoutError } from './time.ts';
export { handleShutdownSignals, type ShutdownOptions } from './shutdown.ts';
export { type Logger, silentLogger, errorFields } from './logger.ts';
export { ensureDirectory, type EnsureDirectoryOptions } from './directory.ts';
