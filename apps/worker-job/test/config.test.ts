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
      // QUEUE_MAX_PROCESSING_MS (16 min) minus the 60 s margin
      workDeadlineMs: 900_000,
      instance: os.hostname(),
      logLevel: 'info',
      otlpEndpoint: undefined,
      queue: { kind: 'embedded', queue: 'surge-work', maxDeliveries: 5, dir: '/srv/.surge/queue' },
      results: { kind: 'local', dir: '/srv/.surge/results' },
    });
  });

  it('reads its own variables', () => {
    const config = loadConfig({
      RECEIVE_COUNT: '10',
      RECEIVE_WAIT_MS: '0',
      WORKER_INSTANCE: 'job-abc',
      LOG_LEVEL: 'warn',
      RESULTS_KIND: 'blob',
      AZURE_STORAGE_ACCOUNT_URL: 'https://a.blob.core.windows.net',
    });
    expect(config).toMatchObject({
      receiveCount: 10,
      receiveWaitMs: 0,
      instance: 'job-abc',
      logLevel: 'warn',
      results: { kind: 'blob', container: 'surge-results' },
    });
  });

  it('the work deadline follows the lock renewal unless set, and must end inside it', () => {
    expect(loadConfig({ QUEUE_MAX_PROCESSING_MS: '120000' }).workDeadlineMs).toBe(108_000);
    expect(loadConfig({ QUEUE_MAX_PROCESSING_MS: '1200000' }).workDeadlineMs).toBe(1_140_000);
    expect(loadConfig({ WORK_DEADLINE_MS: '960000' }).workDeadlineMs).toBe(960_000);
    expect(() => loadConfig({ WORK_DEADLINE_MS: '960001' })).toThrow(
      new ConfigError('WORK_DEADLINE_MS', 'an integer from 1000 to 960000 (at most QUEUE_MAX_PROCESSING_MS, the lock renewal)', '960001'),
    );
  });

  it('names the variable of a bad value', () => {
    for (const [env, variable] of [
      [{ RECEIVE_COUNT: '0' }, 'RECEIVE_COUNT'],
      [{ RECEIVE_WAIT_MS: 'soon' }, 'RECEIVE_WAIT_MS'],
      [{ WORK_DEADLINE_MS: '15m' }, 'WORK_DEADLINE_MS'],
      [{ WORK_DEADLINE_MS: '999' }, 'WORK_DEADLINE_MS'],
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
