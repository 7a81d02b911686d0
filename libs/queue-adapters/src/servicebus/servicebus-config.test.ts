import { describe, expect, it } from 'vitest';
import { ConfigError } from '@surge/core';
import { queueConfigFromEnv, type ServiceBusQueueConfig } from '../config.ts';
import { ServiceBusQueueClient } from './servicebus-client.ts';
import { redact, translateServiceBusError } from './servicebus-errors.ts';

const KEY = 'c3VwZXItc2VjcmV0LWtleS1kby1ub3QtbG9nLW1l';

function configError(env: Record<string, string>): ConfigError {
  try {
    queueConfigFromEnv({ QUEUE_KIND: 'servicebus', ...env });
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('servicebus configuration', () => {
  it.each([
    ['no Endpoint', `SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=${KEY}`],
    ['an https endpoint', `Endpoint=https://surge.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=${KEY}`],
    ['no key name', `Endpoint=sb://surge.servicebus.windows.net/;SharedAccessKey=${KEY}`],
    ['not a connection string at all', KEY],
  ])('a malformed connection string (%s) stops with one line naming the variable, never the key', (_, value) => {
    const error = configError({ SERVICEBUS_CONNECTION_STRING: value });
    expect(error.variable).toBe('SERVICEBUS_CONNECTION_STRING');
    expect(error.message).toMatch(/^SERVICEBUS_CONNECTION_STRING: expected Endpoint=sb:\/\//);
    expect(error.message).not.toContain('\n');
    expect(error.message).not.toContain(KEY);
  });

  it.each(['surge', 'surge.servicebus', 'https://surge.servicebus.windows.net', 'surge.servicebus.windows.net/'])(
    'a namespace that is not fully qualified (%s) names SERVICEBUS_NAMESPACE and the expected form',
    (namespace) => {
      const error = configError({ SERVICEBUS_NAMESPACE: namespace });
      expect(error.variable).toBe('SERVICEBUS_NAMESPACE');
      expect(error.message).toContain('<name>.servicebus.windows.net');
      expect(error.message).not.toContain('\n');
    },
  );

  it('neither variable set names SERVICEBUS_CONNECTION_STRING and both expected forms', () => {
    const error = configError({});
    expect(error.variable).toBe('SERVICEBUS_CONNECTION_STRING');
    expect(error.message).toContain('SERVICEBUS_NAMESPACE=<name>.servicebus.windows.net');
    expect(error.message).not.toContain('\n');
  });

  it('accepts a SAS connection string, an emulator one, and a fully qualified namespace', () => {
    const sas = queueConfigFromEnv({
      QUEUE_KIND: 'servicebus',
      SERVICEBUS_CONNECTION_STRING: `Endpoint=sb://surge.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=${KEY}`,
    });
    expect(sas).toMatchObject({ kind: 'servicebus', queue: 'surge-work', namespace: undefined });
    const emulator = queueConfigFromEnv({
      QUEUE_KIND: 'servicebus',
      SERVICEBUS_CONNECTION_STRING: `Endpoint=sb://127.0.0.1:5672;SharedAccessKeyName=x;SharedAccessKey=y;UseDevelopmentEmulator=true`,
    });
    expect(emulator.kind).toBe('servicebus');
    const passwordless = queueConfigFromEnv({ QUEUE_KIND: 'servicebus', SERVICEBUS_NAMESPACE: 'surge-prod.servicebus.windows.net' });
    expect(passwordless).toMatchObject({ connectionString: undefined, namespace: 'surge-prod.servicebus.windows.net' });
  });
});

describe('servicebus adapter construction', () => {
  const base = { kind: 'servicebus', queue: 'q', maxDeliveries: 5, maxProcessingMs: 60_000 } as const;

  it('creates a client with no network call; its logs never carry the key', async () => {
    const lines: string[] = [];
    const logger = {
      debug: (o: object, m?: string) => lines.push(JSON.stringify(o) + m),
      info: (o: object, m?: string) => lines.push(JSON.stringify(o) + m),
      warn: (o: object, m?: string) => lines.push(JSON.stringify(o) + m),
      error: (o: object, m?: string) => lines.push(JSON.stringify(o) + m),
    };
    const config: ServiceBusQueueConfig = {
      ...base,
      connectionString: `Endpoint=sb://surge.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=${KEY}`,
      namespace: undefined,
    };
    const client = await ServiceBusQueueClient.connect(config, { logger });
    await client.close();
    expect(lines.join('\n')).toContain('surge.servicebus.windows.net');
    expect(lines.join('\n')).not.toContain(KEY);
  });

  it('a connection string the SDK rejects is a ConfigError naming the variable, not the value', async () => {
    const config: ServiceBusQueueConfig = {
      ...base,
      connectionString: `Endpoint=sb://;SharedAccessKeyName=Root;SharedAccessKey=${KEY}`,
      namespace: undefined,
    };
    const error = await ServiceBusQueueClient.connect(config).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe('SERVICEBUS_CONNECTION_STRING');
    expect((error as ConfigError).message).not.toContain(KEY);
  });
});

describe('servicebus error translation', () => {
  it('redacts connection strings and SAS material', () => {
    const text = `failed for Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=${KEY} and sig=${KEY}&se=1`;
    expect(redact(text)).not.toContain(KEY);
    expect(redact(text)).toContain('<redacted>');
  });

  it('maps SDK, HTTP and network failures to stable codes', () => {
    const sbError = Object.assign(new Error('lock gone'), { name: 'ServiceBusError', code: 'MessageLockLost', retryable: false });
    expect(translateServiceBusError(sbError, 'complete', 'q').code).toBe('QUEUE_DELIVERY_LOST');
    expect(translateServiceBusError(Object.assign(new Error('nope'), { statusCode: 401 }), 'depth', 'q').code).toBe('QUEUE_AUTH_FAILED');
    expect(translateServiceBusError(Object.assign(new Error('down'), { code: 'ECONNREFUSED' }), 'send', 'q')).toMatchObject({
      code: 'QUEUE_UNAVAILABLE',
      retryable: true,
    });
    const aggregate = new AggregateError([new Error('first'), Object.assign(new Error(`busy ${KEY}`), { statusCode: 429 })]);
    const translated = translateServiceBusError(aggregate, 'send', 'q');
    expect(translated.code).toBe('QUEUE_BLOCKED');
    expect(translated.message).toContain('busy');
  });
});
