import { ResultError } from '../errors.ts';

/** SAS signatures and account keys must never reach a log line through an error message. */
function scrub(text: string): string {
  return text.replace(/(sig|AccountKey|SharedAccessSignature)=[^;&\s]+/gi, '$1=[redacted]');
}

/** Maps an Azure SDK (or network) failure to a ResultError with a stable code and the right retryable flag. */
export function translateBlobError(cause: unknown, what: string): ResultError {
  const error = cause as { name?: string; statusCode?: number; code?: string; message?: string };
  const firstLine = scrub(String(error?.message ?? cause).split('\n')[0] ?? '');
  const status = error?.statusCode;
  const detail = `${what}: ${status === undefined ? '' : `HTTP ${status} `}${error?.code ?? ''}${firstLine ? ` (${firstLine})` : ''}`
    .replace(/\s+/g, ' ')
    .trim();
  if (error?.name === 'AbortError') return new ResultError('TIMEOUT', detail, { cause });
  if (
    error?.name === 'CredentialUnavailableError' ||
    error?.name === 'AuthenticationRequiredError' ||
    error?.name === 'AuthenticationError'
  ) {
    return new ResultError('AUTH_FAILED', detail, { cause });
  }
  if (status === undefined) return new ResultError('UNAVAILABLE', detail, { cause });
  if (status === 401 || status === 403) return new ResultError('AUTH_FAILED', detail, { cause });
  if (status === 408 || status === 429 || status >= 500) return new ResultError('UNAVAILABLE', detail, { cause });
  return new ResultError('INTERNAL', detail, { cause });
}
