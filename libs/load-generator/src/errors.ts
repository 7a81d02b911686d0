import { SurgeError } from '@surge/core';

/**
 * Why the registry refused a request. The app maps each code to an HTTP status; none of them is a
 * server fault, so none of them may become a 5xx except LOAD_CLOSED (the process is stopping).
 */
export const LoadErrorCodes = {
  /** The client load id exists with a different request body. */
  CONFLICT: 'LOAD_CONFLICT',
  /** Too many loads are pending or running. */
  LIMIT: 'LOAD_LIMIT',
  /** The registry is shutting down and takes no new loads. */
  CLOSED: 'LOAD_CLOSED',
  /** The load would put more bytes on the queue than one load may. */
  TOO_LARGE: 'LOAD_TOO_LARGE',
} as const;

export type LoadErrorCode = (typeof LoadErrorCodes)[keyof typeof LoadErrorCodes];

export class LoadError extends SurgeError {
  declare readonly code: LoadErrorCode;
  constructor(code: LoadErrorCode, message: string, options: { retryable?: boolean } = {}) {
    super(code, message, { retryable: options.retryable ?? (code !== LoadErrorCodes.CONFLICT && code !== LoadErrorCodes.TOO_LARGE) });
  }
}
