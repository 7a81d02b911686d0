import { SurgeError } from '@surge/core';

export type SupervisorErrorCode = 'SUPERVISOR_CLOSED' | 'POD_UNKNOWN' | 'NODE_MODEL_INVALID';

/** Misuse of the supervisor; never retryable (the same call fails the same way). */
export class SupervisorError extends SurgeError {
  declare readonly code: SupervisorErrorCode;
  constructor(code: SupervisorErrorCode, message: string) {
    super(code, message, { retryable: false });
  }
}
