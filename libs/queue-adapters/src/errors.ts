import { SurgeError, errorGuard, type ErrorCodeSpec } from '@surge/core';

/**
 * Stable codes for every queue failure. `retryable` says whether the same call may succeed later
 * (the broker is restarting, blocked, throttled) or not (bad address, missing rights, settled twice).
 */
export const QueueErrorCodes = {
  /** Broker unreachable or the connection dropped. */
  UNAVAILABLE: { code: 'QUEUE_UNAVAILABLE', retryable: true },
  /** Broker alarm (RabbitMQ memory/disk) or throttling: publishing is paused. */
  BLOCKED: { code: 'QUEUE_BLOCKED', retryable: true },
  TIMEOUT: { code: 'QUEUE_TIMEOUT', retryable: true },
  AUTH_FAILED: { code: 'QUEUE_AUTH_FAILED', retryable: false },
  NOT_FOUND: { code: 'QUEUE_NOT_FOUND', retryable: false },
  MESSAGE_TOO_LARGE: { code: 'QUEUE_MESSAGE_TOO_LARGE', retryable: false },
  /** A queue exists with other arguments (type, dead-letter settings). */
  INCOMPATIBLE: { code: 'QUEUE_INCOMPATIBLE', retryable: false },
  /** The delivery's lock, lease or channel is gone: the broker will redeliver it; do not settle again. */
  DELIVERY_LOST: { code: 'QUEUE_DELIVERY_LOST', retryable: false },
  ALREADY_SETTLED: { code: 'QUEUE_ALREADY_SETTLED', retryable: false },
  CLOSED: { code: 'QUEUE_CLOSED', retryable: false },
  INTERNAL: { code: 'QUEUE_INTERNAL', retryable: false },
  /**
   * The broker's depth answer is not a count (negative, fractional, beyond 2^53, not JSON, too large):
   * served as unknown rather than as a number an autoscaler would act on. Retryable: the next read may be sound.
   */
  DEPTH_INVALID: { code: 'QUEUE_DEPTH_INVALID', retryable: true },
} as const satisfies Record<string, ErrorCodeSpec>;

export type QueueErrorKind = keyof typeof QueueErrorCodes;
export type QueueErrorCode = (typeof QueueErrorCodes)[QueueErrorKind]['code'];

export class QueueError extends SurgeError {
  declare readonly code: QueueErrorCode;
  readonly queue: string | undefined;

  constructor(kind: QueueErrorKind, message: string, options: { queue?: string; cause?: unknown; retryable?: boolean } = {}) {
    const { code, retryable } = QueueErrorCodes[kind];
    super(code, message, { retryable: options.retryable ?? retryable, cause: options.cause });
    this.queue = options.queue;
  }
}

export const isQueueError = errorGuard<QueueError>(QueueErrorCodes);
