import { describe, expect, it } from 'vitest';
import { translateBlobError } from '../src/blob/translate.ts';

describe('translateBlobError', () => {
  it('maps statuses to stable codes with the right retryable flag', () => {
    const cases: [object, string, boolean][] = [
      [{ statusCode: 403, code: 'AuthorizationFailure', message: 'no' }, 'RESULTS_AUTH_FAILED', false],
      [{ statusCode: 503, code: 'ServerBusy', message: 'busy' }, 'RESULTS_UNAVAILABLE', true],
      [{ statusCode: 429, message: 'slow down' }, 'RESULTS_UNAVAILABLE', true],
      [{ code: 'REQUEST_SEND_ERROR', message: 'connect ECONNREFUSED 127.0.0.1:1' }, 'RESULTS_UNAVAILABLE', true],
      [{ name: 'AbortError', message: 'aborted' }, 'RESULTS_TIMEOUT', true],
      [{ name: 'CredentialUnavailableError', message: 'no identity' }, 'RESULTS_AUTH_FAILED', false],
      [{ statusCode: 400, code: 'InvalidHeaderValue', message: 'bad' }, 'RESULTS_INTERNAL', false],
    ];
    for (const [cause, code, retryable] of cases) {
      const error = translateBlobError(Object.assign(new Error(String((cause as { message: string }).message)), cause), 'writing');
      expect([error.code, error.retryable]).toEqual([code, retryable]);
    }
  });

  it('scrubs signatures and keys from messages', () => {
    const error = translateBlobError(
      new Error('failed for https://a.blob.core.windows.net/c?sv=1&sig=SECRET123 AccountKey=KEY456'),
      'writing',
    );
    expect(error.message).not.toMatch(/SECRET123|KEY456/);
  });
});
