import { describe, expect, it } from 'vitest';
import { ConfigError } from '@surge/core';
import { loadConfig, parseConstLabels } from './config.ts';

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('exporter config', () => {
  it('has the documented defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      host: '0.0.0.0',
      port: 9113,
      nginxStatusUrls: [],
      nginxTimeoutMs: 5000,
      constLabels: {},
      queues: ['surge-work'],
      depthCacheMs: 5000,
      depthTimeoutMs: 5000,
      metricsApiToken: undefined,
      metricsApiKey: undefined,
      shutdownGraceMs: 5000,
      logLevel: 'info',
    });
    expect(config.queue.kind).toBe('embedded');
  });

  it('reads lists, labels and secrets', () => {
    const config = loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      NGINX_STATUS_URL: 'http://127.0.0.1:8080/stub_status, http://u:p@127.0.0.1:8081/status',
      EXPORTER_CONST_LABELS: 'cluster=eks, team=web,empty=',
      QUEUE_NAME: 'orders',
      DEPTH_CACHE_MS: '0',
      METRICS_API_TOKEN: 't'.repeat(32),
      METRICS_API_KEY: 'k'.repeat(16),
    });
    expect(config.nginxStatusUrls).toEqual(['http://127.0.0.1:8080/stub_status', 'http://u:p@127.0.0.1:8081/status']);
    expect(config.constLabels).toEqual({ cluster: 'eks', team: 'web', empty: '' });
    expect(config.queues).toEqual(['orders']);
    expect(config.depthCacheMs).toBe(0);
    expect(config.metricsApiToken).toHaveLength(32);
    expect(loadConfig({ EXPORTER_QUEUES: 'a, b,a', QUEUE_NAME: 'c' }).queues).toEqual(['a', 'b']);
  });

  it.each([
    [{ NGINX_STATUS_URL: 'localhost:8080/stub_status' }, 'NGINX_STATUS_URL'],
    [{ NGINX_STATUS_URL: 'ftp://127.0.0.1/status' }, 'NGINX_STATUS_URL'],
    [{ NGINX_STATUS_URL: 'http://a/s,http://a/s' }, 'NGINX_STATUS_URL'],
    [{ NGINX_STATUS_URL: 'http://u:p@a/s,http://a/s' }, 'NGINX_STATUS_URL'],
    [{ NGINX_STATUS_URL: 'http://u:p@a/s,http://v:q@a/s' }, 'NGINX_STATUS_URL'],
    [{ NGINX_STATUS_URL: 'http://a:80/s,HTTP://A/s' }, 'NGINX_STATUS_URL'],
    [{ EXPORTER_CONST_LABELS: 'no-equals' }, 'EXPORTER_CONST_LABELS'],
    [{ EXPORTER_CONST_LABELS: '1bad=x' }, 'EXPORTER_CONST_LABELS'],
    [{ EXPORTER_CONST_LABELS: 'queue=x' }, 'EXPORTER_CONST_LABELS'],
    [{ EXPORTER_CONST_LABELS: 'a=1,a=2' }, 'EXPORTER_CONST_LABELS'],
    [{ EXPORTER_QUEUES: 'ok,bad name' }, 'EXPORTER_QUEUES'],
    [{ DEPTH_CACHE_MS: 'soon' }, 'DEPTH_CACHE_MS'],
    [{ PORT: '70000' }, 'PORT'],
    [{ METRICS_API_TOKEN: 'short' }, 'METRICS_API_TOKEN'],
    [{ METRICS_API_KEY: 'short' }, 'METRICS_API_KEY'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ QUEUE_KIND: 'rabbitmq' }, 'RABBITMQ_URL'],
  ])('rejects %o naming %s', (env, variable) => {
    const error = configError(env);
    expect(error.variable).toBe(variable);
    expect(error.message.split('\n')).toHaveLength(1);
  });

  it('never echoes a secret in its error', () => {
    expect(configError({ METRICS_API_TOKEN: 'abc123' }).message).not.toContain('abc123');
    expect(configError({ NGINX_STATUS_URL: 'http://u:s3cretpw@a/s,http://a/s' }).message).not.toContain('s3cretpw');
  });

  it('parses an empty label list', () => {
    expect(parseConstLabels(undefined)).toEqual({});
    expect(parseConstLabels(' , ')).toEqual({});
  });
});
