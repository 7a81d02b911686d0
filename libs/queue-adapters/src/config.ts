/**
 * Validated queue configuration, the one input of `createQueueClient`. `queueConfigFromEnv` is what
 * each app's config module calls with `process.env`; it fails with one line naming the variable and
 * the expected form, and never echoes a connection string.
 */
import path from 'node:path';
import { ConfigError, readEnum, readInteger, readOptionalString, readString, readUrl, type Env } from '@surge/core';
import type { QueueKind } from './types.ts';

export interface CommonQueueConfig {
  queue: string;
  /** Deliveries before a message is dead-lettered automatically (Service Bus MaxDeliveryCount). */
  maxDeliveries: number;
  /**
   * The longest a handler may hold a delivery. Locks and leases are renewed automatically for at
   * least this long, so long work never loses its message to another consumer.
   */
  maxProcessingMs: number;
}

export interface EmbeddedQueueConfig extends CommonQueueConfig {
  kind: 'embedded';
  /** Folder of the queue's database; shared by every process that uses the same queue. */
  dir: string;
  /** How long a delivery stays invisible without a renewal; a dead holder's delivery returns after this. */
  leaseMs: number;
}

export interface RabbitMqQueueConfig extends CommonQueueConfig {
  kind: 'rabbitmq';
  /** `amqp://user:pass@host:5672/vhost` — a secret: never logged. */
  url: string;
  /** `http://user:pass@host:15672` — for depth (ready + unacked, as KEDA's `rabbitmq` trigger with `protocol: http`). */
  managementUrl: string | undefined;
  /** Unacked deliveries per consumer channel; defaults to the consume concurrency. */
  prefetch: number | undefined;
}

export interface ServiceBusQueueConfig extends CommonQueueConfig {
  kind: 'servicebus';
  /** SAS connection string — a secret: never logged. */
  connectionString: string | undefined;
  /** `<name>.servicebus.windows.net`, used with DefaultAzureCredential (AKS workload identity). */
  namespace: string | undefined;
}

export type QueueConfig = EmbeddedQueueConfig | RabbitMqQueueConfig | ServiceBusQueueConfig;

export const QUEUE_KINDS: readonly QueueKind[] = ['embedded', 'rabbitmq', 'servicebus'];
export const DEFAULT_QUEUE_NAME = 'surge-work';

const QUEUE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

export function readQueueName(env: Env, name = 'QUEUE_NAME'): string {
  const queue = readString(env, name, DEFAULT_QUEUE_NAME);
  if (!QUEUE_NAME_PATTERN.test(queue)) throw new ConfigError(name, 'letters, digits, . _ - (1-100 chars)', JSON.stringify(queue));
  return queue;
}

/** Service Bus connection strings: `Endpoint=sb://…;SharedAccessKeyName=…;SharedAccessKey=…`. */
export function checkServiceBusConnectionString(value: string, variable = 'SERVICEBUS_CONNECTION_STRING'): void {
  const parts = new Map(
    value
      .split(';')
      .filter((p) => p.includes('='))
      .map((p) => [p.slice(0, p.indexOf('=')).trim().toLowerCase(), p.slice(p.indexOf('=') + 1).trim()] as const),
  );
  const endpoint = parts.get('endpoint');
  const expected = 'Endpoint=sb://<namespace>/;SharedAccessKeyName=<name>;SharedAccessKey=<key> (or SharedAccessSignature=…)';
  if (!endpoint || !/^sb:\/\/[^/;]+\/?$/.test(endpoint))
    throw new ConfigError(variable, expected, 'a value without a valid Endpoint=sb://…');
  const hasKey = parts.has('sharedaccesskeyname') && parts.has('sharedaccesskey');
  if (!hasKey && !parts.has('sharedaccesssignature'))
    throw new ConfigError(variable, expected, 'a value without SharedAccessKeyName/SharedAccessKey');
}

export function queueConfigFromEnv(env: Env, options: { cwd?: string } = {}): QueueConfig {
  const kind = readEnum(env, 'QUEUE_KIND', QUEUE_KINDS, 'embedded');
  const common: CommonQueueConfig = {
    queue: readQueueName(env),
    maxDeliveries: readInteger(env, 'QUEUE_MAX_DELIVERIES', { fallback: 5, min: 1, max: 1000 }),
    maxProcessingMs: readInteger(env, 'QUEUE_MAX_PROCESSING_MS', { fallback: 16 * 60_000, min: 1000, max: 24 * 3600_000 }),
  };
  switch (kind) {
    case 'embedded':
      return {
        kind,
        ...common,
        dir: path.resolve(options.cwd ?? process.cwd(), readString(env, 'EMBEDDED_QUEUE_DIR', path.join('.surge', 'queue'))),
        leaseMs: readInteger(env, 'EMBEDDED_QUEUE_LEASE_MS', { fallback: 30_000, min: 200, max: 3600_000 }),
      };
    case 'rabbitmq': {
      const url = readUrl(env, 'RABBITMQ_URL', ['amqp:', 'amqps:']);
      const management = readOptionalString(env, 'RABBITMQ_MANAGEMENT_URL');
      return {
        kind,
        ...common,
        url: url.toString(),
        managementUrl: management === undefined ? undefined : readUrl(env, 'RABBITMQ_MANAGEMENT_URL', ['http:', 'https:']).toString(),
        prefetch:
          readOptionalString(env, 'RABBITMQ_PREFETCH') === undefined
            ? undefined
            : readInteger(env, 'RABBITMQ_PREFETCH', { min: 1, max: 65535 }),
      };
    }
    case 'servicebus': {
      const connectionString = readOptionalString(env, 'SERVICEBUS_CONNECTION_STRING');
      const namespace = readOptionalString(env, 'SERVICEBUS_NAMESPACE');
      if (connectionString === undefined && namespace === undefined) {
        throw new ConfigError(
          'SERVICEBUS_CONNECTION_STRING',
          'a SAS connection string, or SERVICEBUS_NAMESPACE=<name>.servicebus.windows.net for passwordless sign-in',
        );
      }
      if (connectionString !== undefined) checkServiceBusConnectionString(connectionString);
      if (
        connectionString === undefined &&
        namespace !== undefined &&
        !/^[a-z0-9][a-z0-9-]{4,48}[a-z0-9]\.servicebus\.(windows\.net|chinacloudapi\.cn|usgovcloudapi\.net|cloudapi\.de)$/i.test(namespace)
      ) {
        throw new ConfigError(
          'SERVICEBUS_NAMESPACE',
          'a fully qualified namespace like <name>.servicebus.windows.net',
          JSON.stringify(namespace),
        );
      }
      return { kind, ...common, connectionString, namespace };
    }
  }
}
