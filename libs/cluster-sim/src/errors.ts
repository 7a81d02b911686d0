import { SurgeError } from '@surge/core';

export type SimErrorCode = 'PROFILE_INVALID' | 'OVERLAY_INVALID' | 'UNSCHEDULABLE';

/** Bad input to the simulator: one line naming what is wrong; never retryable. */
export class SimError extends SurgeError {
  constructor(code: SimErrorCode, message: string) {
    super(code, message, { retryable: false });
  }
}
