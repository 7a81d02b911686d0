import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '@surge/core';
import { resultsConfigFromEnv } from '../src/index.ts';

const KEY_CS = 'DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=c2VjcmV0LWtleQ==;EndpointSuffix=core.windows.net';

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('resultsConfigFromEnv', () => {
  it('defaults to a local folder under .surge', () => {
    expect(resultsConfigFromEnv({}, { cwd: '/srv/app' })).toEqual({ kind: 'local', dir: path.join('/srv/app', '.surge', 'results') });
    expect(resultsConfigFromEnv({ RESULTS_DIR: 'out' }, { cwd: '/srv' })).toEqual({ kind: 'local', dir: '/srv/out' });
  });

  it('reads blob settings by connection string, with the default container', () => {
    expect(resultsConfigFromEnv({ RESULTS_KIND: 'blob', AZURE_STORAGE_CONNECTION_STRING: KEY_CS })).toEqual({
      kind: 'blob',
      connectionString: KEY_CS,
      accountUrl: undefined,
      container: 'surge-results',
    });
  });

  it('reads blob settings by account URL for passwordless sign-in', () => {
    expect(
      resultsConfigFromEnv({
        RESULTS_KIND: 'blob',
        AZURE_STORAGE_ACCOUNT_URL: 'https://acct.blob.core.windows.net/',
        RESULTS_CONTAINER: 'my-results',
      }),
    ).toEqual({
      kind: 'blob',
      connectionString: undefined,
      accountUrl: 'https://acct.blob.core.windows.net',
      container: 'my-results',
    });
  });

  it('names the variable and never echoes a connection string', () => {
    const bad = 'AccountName=acct;Password=hunter2';
    const error = configError(() => resultsConfigFromEnv({ RESULTS_KIND: 'blob', AZURE_STORAGE_CONNECTION_STRING: bad }));
    expect(error.variable).toBe('AZURE_STORAGE_CONNECTION_STRING');
    expect(error.message).not.toContain('hunter2');
    expect(configError(() => resultsConfigFromEnv({ RESULTS_KIND: 'blob' })).variable).toBe('AZURE_STORAGE_CONNECTION_STRING');
    expect(configError(() => resultsConfigFromEnv({ RESULTS_KIND: 's3' })).variable).toBe('RESULTS_KIND');
    expect(
      configError(() =>
        resultsConfigFromEnv({ RESULTS_KIND: 'blob', AZURE_STORAGE_CONNECTION_STRING: KEY_CS, RESULTS_CONTAINER: 'Bad_Name' }),
      ).variable,
    ).toBe('RESULTS_CONTAINER');
    expect(
      configError(() =>
        resultsConfigFromEnv({ RESULTS_KIND: 'blob', AZURE_STORAGE_ACCOUNT_URL: 'https://acct.blob.core.windows.net/?sv=1&sig=abc' }),
      ).variable,
    ).toBe('AZURE_STORAGE_ACCOUNT_URL');
  });
});
