import { describe, expect, it } from 'vitest';
import { ConfigError } from '@surge/core';
import { loadConfig } from '../src/config.ts';
import { parseCliArgs } from '../src/cli/config.ts';
import { progressBar, progressLine, summary } from '../src/cli/progress.ts';

const TOKEN = 'a-token-of-enough-length';

describe('producer configuration', () => {
  it('has the documented defaults', () => {
    const config = loadConfig({ PRODUCER_TOKEN: TOKEN });
    expect(config).toMatchObject({
      host: '0.0.0.0',
      port: 8080,
      token: TOKEN,
      authDisabled: false,
      maxConcurrentLoads: 4,
      batchSize: 100,
      bodyLimitBytes: 65536,
      sendRetryMs: 30_000,
      maxLoadBytes: 2 * 1024 ** 3,
      minFreeBytes: 1024 ** 3,
      requestTimeoutMs: 10_000,
      headersTimeoutMs: 5_000,
      shutdownGraceMs: 20_000,
      logLevel: 'info',
      queue: { kind: 'embedded', queue: 'surge-work' },
    });
  });

  it('reads every variable', () => {
    const config = loadConfig({
      PRODUCER_TOKEN: TOKEN,
      HOST: '127.0.0.1',
      PORT: '9000',
      PRODUCER_MAX_CONCURRENT_LOADS: '2',
      PRODUCER_BATCH_SIZE: '250',
      PRODUCER_BODY_LIMIT_BYTES: '4096',
      PRODUCER_SEND_RETRY_MS: '5000',
      PRODUCER_MAX_LOAD_BYTES: '1000000',
      PRODUCER_MIN_FREE_BYTES: '0',
      PRODUCER_REQUEST_TIMEOUT_MS: '3000',
      PRODUCER_HEADERS_TIMEOUT_MS: '2000',
      SHUTDOWN_GRACE_MS: '10000',
      LOG_LEVEL: 'debug',
      QUEUE_KIND: 'rabbitmq',
      QUEUE_NAME: 'orders',
      RABBITMQ_URL: 'amqp://u:p@127.0.0.1:5672/',
    });
    expect(config).toMatchObject({
      host: '127.0.0.1',
      port: 9000,
      maxConcurrentLoads: 2,
      batchSize: 250,
      bodyLimitBytes: 4096,
      sendRetryMs: 5000,
      maxLoadBytes: 1_000_000,
      minFreeBytes: 0,
      requestTimeoutMs: 3000,
      headersTimeoutMs: 2000,
      shutdownGraceMs: 10_000,
      logLevel: 'debug',
      queue: { kind: 'rabbitmq', queue: 'orders' },
    });
  });

  it('needs a token unless auth is explicitly disabled', () => {
    expect(() => loadConfig({})).toThrow(ConfigError);
    expect(() => loadConfig({})).toThrow(/^PRODUCER_TOKEN: /);
    expect(() => loadConfig({ PRODUCER_AUTH_DISABLED: 'false' })).toThrow(/^PRODUCER_TOKEN: /);
    expect(() => loadConfig({ PRODUCER_TOKEN: 'abc' })).toThrow('PRODUCER_TOKEN: expected at least 16 characters, got 3 characters');
    expect(loadConfig({ PRODUCER_AUTH_DISABLED: 'true' })).toMatchObject({ authDisabled: true, token: undefined });
    // The opt-out wins over a token that is also set: the operator said "no auth" explicitly.
    expect(loadConfig({ PRODUCER_AUTH_DISABLED: 'true', PRODUCER_TOKEN: TOKEN }).token).toBeUndefined();
  });

  it.each([
    ['PORT', '70000'],
    ['PRODUCER_MAX_CONCURRENT_LOADS', '0'],
    ['PRODUCER_BATCH_SIZE', '1.5'],
    ['PRODUCER_BODY_LIMIT_BYTES', 'big'],
    ['PRODUCER_SEND_RETRY_MS', '-1'],
    ['PRODUCER_MAX_LOAD_BYTES', '10'],
    ['PRODUCER_MIN_FREE_BYTES', '-1'],
    ['PRODUCER_REQUEST_TIMEOUT_MS', '0'],
    ['PRODUCER_HEADERS_TIMEOUT_MS', '20000'],
    ['SHUTDOWN_GRACE_MS', '10'],
    ['LOG_LEVEL', 'loud'],
    ['QUEUE_KIND', 'kafka'],
  ])('names %s when it is bad', (name, value) => {
    expect(() => loadConfig({ PRODUCER_TOKEN: TOKEN, [name]: value })).toThrow(new RegExp(`^${name}: expected`));
  });
});

describe('load CLI', () => {
  it('turns arguments into a load request', () => {
    const options = parseCliArgs(
      [
        '--count',
        '10000',
        '--rate',
        '500',
        '--payload-bytes',
        '1024',
        '--duration-ms',
        '50',
        '--mode',
        'cpu',
        '--load-id',
        'run-1',
        '--url',
        'http://127.0.0.1:9999',
      ],
      { PRODUCER_TOKEN: 'tok' },
      false,
    );
    expect(options.request).toEqual({
      count: 10_000,
      rate: 500,
      payloadBytes: 1024,
      loadId: 'run-1',
      work: { durationMs: 50, mode: 'cpu' },
    });
    expect(options.url.toString()).toBe('http://127.0.0.1:9999/');
    expect(options.token).toBe('tok');
    expect(options.live).toBe(false);
    expect(parseCliArgs(['--count', '1', '--token', 'flag'], { PRODUCER_TOKEN: 'env' }, true)).toMatchObject({ token: 'flag', live: true });
    expect(parseCliArgs(['--count', '1', '--plain'], {}, true).live).toBe(false);
  });

  it.each([
    [[]],
    [['--count', 'ten']],
    [['--count', '1', '--bogus']],
    [['--count', '1', '--url', 'ftp://x']],
    [['--count', '1', '--mode', 'gpu']],
    [['--count', '1', 'extra']],
  ])('refuses %j', (argv) => {
    expect(() => parseCliArgs(argv, {}, false)).toThrow();
  });

  it('draws progress, rate and ETA', () => {
    const status = {
      version: 1 as const,
      loadId: 'l',
      state: 'running' as const,
      sent: 6_000,
      total: 10_000,
      rate: 500,
      createdAt: '2025-01-01T00:00:00.000Z',
    };
    expect(progressBar(status, 10)).toBe('[██████░░░░]  60% 6,000/10,000  500 msg/s  ETA 0:08');
    expect(progressLine(status)).toBe('running  60% 6,000/10,000 rate=500/s eta=0:08');
    expect(progressLine({ ...status, rate: 0 })).toContain('eta=-');
    expect(
      summary({
        ...status,
        state: 'failed',
        sent: 300,
        rate: 100,
        startedAt: '2025-01-01T00:00:00.000Z',
        finishedAt: '2025-01-01T00:00:03.000Z',
        error: 'QUEUE_UNAVAILABLE: gone',
      }),
    ).toBe('load l failed: 300/10,000 messages sent (confirmed by the broker) in 3.0 s, 100 msg/s\nerror: QUEUE_UNAVAILABLE: gone');
    expect(summary({ ...status, state: 'failed', sent: 420, unconfirmed: 20 })).toContain('unconfirmed: 20 more handed to the broker');
  });
});
