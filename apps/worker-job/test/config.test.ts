import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '@surge/core';
import { loadConfig } from '../src/config.ts';

describe('worker-job configuration', () => {
  it('has documented defaults', () => {
    const config = loadConfig({}, { cwd: '/srv' });
    expect(config).toMatchObject({
      receiveCount: 1,
      receiveWaitMs: 5000,
      instance: os.hostname(),
      logLevel: 'info',
      otlpEndpoint: undefined,
      queue: { kind: 'embedded', queue: 'surge-work', maxDeliveries: 5, dir: '/srv/.surge/queue' },
      results: { kind: 'local', dir: '/srv/.surge/results' },
    });
  });

  it('reads its own variables', () => {
    const config = loadConfig({ RECEIVE_COUNT: '10', RECEIVE_WAIT_MS: '0', WORKER_INSTANCE: 'job-abc', LOG_LEVEL: 'warn', RESULTS_KIND: 'blob', AZURE_STORAGE_ACCOUNT_URL: 'https://a.blob.core.windows.net' });
    expect(config).toMatchObject({ receiveCount: 10, receiveWaitMs: 0, instance: 'job-abc', logLevel: 'warn', results: { kind: 'blob', container: 'surge-results' } });
  });

  it('names the variable of a bad value', () => {
    for (const [env, variable] of [
      [{ RECEIVE_COUNT: '0' }, 'RECEIVE_COUNT'],
      [{ RECEIVE_WAIT_MS: 'soon' }, 'RECEIVE_WAIT_MS'],
      [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
      [{ QUEUE_KIND: 'kafka' }, 'QUEUE_KIND'],
      [{ RESULTS_KIND: 'blob' }, 'AZURE_STORAGE_CONNECTION_STRING'],
    ] as const) {
      try {
        loadConfig(env);
        expect.unreachable(`${variable} should be rejected`);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        expect((error as ConfigError).variable).toBe(variable);
      }
    }
  });
});
