/**
 * Translates what the Service Bus SDK (AMQP side), the administration client (HTTP side) and
 * @azure/identity throw into `QueueError` kinds with stable codes. Messages are redacted: a
 * connection string or SAS key never reaches an error message or a log line.
 */
import { isServiceBusError, type ServiceBusError } from '@azure/service-bus';
import { isSurgeError } from '@surge/core';
import { QueueError, isQueueError, type QueueErrorKind } from '../errors.ts';

const SECRET_PARTS = /(SharedAccessKey|SharedAccessSignature|SharedAccessKeyName|sig|se|skn)=[^;&\s"']*/gi;
const CONNECTION_STRING = /Endpoint=sb:\/\/[^\s"']*/gi;

/** Removes connection strings and SAS material from text that may end up in a log or an error. */
export function redact(text: string): string {
  return text.replace(CONNECTION_STRING, 'Endpoint=sb://<redacted>').replace(SECRET_PARTS, '$1=<redacted>');
}

const SERVICE_BUS_CODES: Record<ServiceBusError['code'], QueueErrorKind> = {
  GeneralError: 'UNAVAILABLE',
  MessagingEntityNotFound: 'NOT_FOUND',
  MessageLockLost: 'DELIVERY_LOST',
  MessageNotFound: 'DELIVERY_LOST',
  MessageSizeExceeded: 'MESSAGE_TOO_LARGE',
  MessagingEntityAlreadyExists: 'INCOMPATIBLE',
  MessagingEntityDisabled: 'UNAVAILABLE',
  QuotaExceeded: 'BLOCKED',
  ServiceBusy: 'BLOCKED',
  ServiceTimeout: 'TIMEOUT',
  ServiceCommunicationProblem: 'UNAVAILABLE',
  SessionCannotBeLocked: 'DELIVERY_LOST',
  SessionLockLost: 'DELIVERY_LOST',
  UnauthorizedAccess: 'AUTH_FAILED',
};

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'EPROTO',
]);

function kindOf(error: unknown): { kind: QueueErrorKind; retryable?: boolean } {
  if (isServiceBusError(error)) {
    const kind = SERVICE_BUS_CODES[error.code] ?? 'INTERNAL';
    // The SDK knows best whether a general error is transient.
    return kind === 'UNAVAILABLE' ? { kind, retryable: error.retryable } : { kind };
  }
  const e = error as { name?: unknown; code?: unknown; statusCode?: unknown; message?: unknown; syscall?: unknown; retryable?: unknown };
  const name = typeof e?.name === 'string' ? e.name : '';
  const code = typeof e?.code === 'string' ? e.code : '';
  if (name === 'MessagingError') {
    // core-amqp's base error (a socket that cannot connect arrives as one, with `syscall` set).
    if (typeof e.syscall === 'string' || NETWORK_CODES.has(String(e.message ?? '').split(':')[0] ?? ''))
      return { kind: 'UNAVAILABLE', retryable: true };
    const known = SERVICE_BUS_CODES[code as ServiceBusError['code']];
    if (known) return { kind: known };
    return e.retryable === true ? { kind: 'UNAVAILABLE' } : { kind: 'INTERNAL' };
  }
  if (name === 'CredentialUnavailableError' || name === 'AuthenticationError' || name === 'AggregateAuthenticationError')
    return { kind: 'AUTH_FAILED' };
  if (name === 'AbortError' || name === 'OperationTimeoutError' || code === 'TIMEOUT') return { kind: 'TIMEOUT' };
  if (typeof e?.statusCode === 'number') {
    // The administration client (ATOM over HTTPS).
    const status = e.statusCode;
    if (status === 401 || status === 403) return { kind: 'AUTH_FAILED' };
    if (status === 404) return { kind: 'NOT_FOUND' };
    if (status === 429) return { kind: 'BLOCKED' };
    if (status >= 500) return { kind: 'UNAVAILABLE' };
    return { kind: 'INTERNAL' };
  }
  if (code === 'MessageEntityNotFoundError') return { kind: 'NOT_FOUND' };
  if (NETWORK_CODES.has(code) || code === 'REQUEST_SEND_ERROR') return { kind: 'UNAVAILABLE' };
  return { kind: 'INTERNAL' };
}

/** The SDK's retry helper throws an AggregateError of its attempts: the last one says what finally failed. */
function innermost(error: unknown): unknown {
  if (error instanceof AggregateError && error.errors.length > 0) return innermost(error.errors[error.errors.length - 1]);
  return error;
}

export function translateServiceBusError(error: unknown, what: string, queue: string): QueueError {
  if (isQueueError(error)) return error as QueueError;
  const inner = innermost(error);
  if (isSurgeError(inner) && inner.code === 'TIMEOUT')
    return new QueueError('TIMEOUT', `${what} on queue ${queue}: ${inner.message}`, { queue, cause: inner });
  const { kind, retryable } = kindOf(inner);
  const detail = redact(inner instanceof Error ? inner.message || inner.name : String(inner));
  const code = isServiceBusError(inner) ? ` [${inner.code}]` : '';
  // The cause is kept for stack traces, but only after its message is redacted too.
  if (inner instanceof Error) inner.message = redact(inner.message);
  return new QueueError(kind, `${what} on queue ${queue} failed${code}: ${detail}`, {
    queue,
    cause: inner,
    ...(retryable === undefined ? {} : { retryable }),
  });
}
