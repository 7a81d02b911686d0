import { SurgeError, errorGuard, type ErrorCodeSpec } from '@surge/core';

/**
 * Why a stub_status read failed. Every kind ends in `nginx_up 0` for that target; the code is what
 * the exporter logs, so an operator can tell a wrong path (HTTP 404) from a dead nginx.
 */
export const NginxStatusErrorCodes = {
  /** Connection refused or reset, DNS failure: nginx is not answering. */
  UNREACHABLE: { code: 'NGINX_STATUS_UNREACHABLE', retryable: true },
  TIMEOUT: { code: 'NGINX_STATUS_TIMEOUT', retryable: true },
  /** Answered with a status other than 200 (a wrong stub_status path gives 404). */
  HTTP_STATUS: { code: 'NGINX_STATUS_HTTP_STATUS', retryable: false },
  /** Answered 200 with a body that is not stub_status output. */
  MALFORMED: { code: 'NGINX_STATUS_MALFORMED', retryable: false },
} as const satisfies Record<string, ErrorCodeSpec>;

export type NginxStatusErrorKind = keyof typeof NginxStatusErrorCodes;
export type NginxStatusErrorCode = (typeof NginxStatusErrorCodes)[NginxStatusErrorKind]['code'];

export class NginxStatusError extends SurgeError {
  declare readonly code: NginxStatusErrorCode;

  constructor(kind: NginxStatusErrorKind, message: string, options: { cause?: unknown } = {}) {
    const { code, retryable } = NginxStatusErrorCodes[kind];
    super(code, message, { retryable, cause: options.cause });
  }
}

export const isNginxStatusError = errorGuard<NginxStatusError>(NginxStatusErrorCodes);
