export { SurgeError, ConfigError, isSurgeError, errorMessage } from './errors.ts';
export {
  type Env,
  readString,
  readOptionalString,
  readEnum,
  readInteger,
  readBoolean,
  readUrl,
  loadConfigOrExit,
} from './env.ts';
export { sleep, withTimeout, backoffDelay, TimeoutError } from './time.ts';
export { handleShutdownSignals, type ShutdownOptions } from './shutdown.ts';
