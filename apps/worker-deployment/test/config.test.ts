import { describe, expect, it } from 'vitest';
import { ConfigError } from '@surge/core';
import { loadConfig } from '../src/config.ts';

describe('worker-deployment configuration', () => {
  it('has documented defaults', () => {
    expect(loadConfig({}, { cwd: '/srv' })).toMatchObject({
      port: 8080,
      host: '0.0.0.0',
      concurrency: 4,
      drainTimeoutMs: 25_000,
      logLevel: 'info',
      queue: { kind: 'embedded', queue: 'surge-work' },
      results: { kind: 'local', dir: '/srv/.surge/results' },
    });
  });

  it('reads its own variables', () => {
    expect(
      loadConfig({ PORT: '9000', HOST: '127.0.0.1', CONCURRENCY: '16', DRAIN_TIMEOUT_MS: '1000', WORKER_INSTANCE: 'pod-1' }),
    ).toMatchObject({ port: 9000, host: '127.0.0.1', concurrency: 16, drainTimeoutMs: 1000, instance: 'pod-1' });
  });

  it('names the variable of a bad value', () => {
    for (const [env, variable] of [
      [{ CONCURRENCY: '0' }, 'CONCURRENCY'],
      [{ PORT: '70000' }, 'PORT'],
      [{ DRAIN_TIMEOUT_MS: '-1' }, 'DRAIN_TIMEOUT_MS'],
      [{ QUEUE_MAX_DELIVERIES: 'x' }, 'QUEUE_MAX_DELIVERIES'],
    ] as const) {
      expect(() => loadConfig(env)).toThrow(ConfigError);
      try {
        loadConfig(env);
      } catch (error) {
        expect((error as ConfigError).variable).toBe(variable);
      }
    }
  });
});
