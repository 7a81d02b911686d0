import { SurgeError, errorGuard, type ErrorCodeSpec } from '@surge/core';

/**
 * Stable codes for result-store failures. `retryable` tells the worker whether abandoning the
 * message (so it is redelivered and written later) can help, or whether an operator must act.
 */
export const ResultErrorCodes = {
  /** The store did not answer, dropped the connection, throttled or failed on its side (5xx). */
  UNAVAILABLE: { code: 'RESULTS_UNAVAILABLE', retryable: true },
  TIMEOUT: { code: 'RESULTS_TIMEOUT', retryable: true },
  /** Credentials missing, wrong or without the right role. */
  AUTH_FAILED: { code: 'RESULTS_AUTH_FAILED', retryable: false },
  /** The folder or container cannot be written (permissions, read-only file system, not a folder). */
  NOT_WRITABLE: { code: 'RESULTS_NOT_WRITABLE', retryable: false },
  /** The result does not satisfy the WorkResult schema: a bug, never retried. */
  INVALID_RESULT: { code: 'RESULTS_INVALID_RESULT', retryable: false },
  /** A stored result could not be parsed. */
  CORRUPT: { code: 'RESULTS_CORRUPT', retryable: false },
  CLOSED: { code: 'RESULTS_CLOSED', retryable: false },
  INTERNAL: { code: 'RESULTS_INTERNAL', retryable: false },
} as const satisfies Record<string, ErrorCodeSpec>;

export type ResultErrorKind = keyof typeof ResultErrorCodes;
export type ResultErrorCode = (typeof ResultErrorCodes)[ResultErrorKind]['code'];

export class ResultError extends SurgeError {
  declare readonly code: ResultErrorCode;

  constructor(kind: ResultErrorKind, message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    const { code, retryable } = ResultErrorCodes[kind];
    super(code, message, { retryable: options.retryable ?? retryable, cause: options.cause });
  }
}

export const isResultError = errorGuard<ResultError>(ResultErrorCodes);
