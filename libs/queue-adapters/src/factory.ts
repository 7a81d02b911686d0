import type { QueueConfig } from './config.ts';
import type { QueueClient } from './types.ts';

/** Minimal structured logger the adapters accept (pino's shape); adapters never log payloads or secrets. */
export interface AdapterLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface AdapterOptions {
  logger?: AdapterLogger;
  /**
   * What the client is mostly for. `consume` (the workers): RabbitMQ sets up on the consume
   * connection and opens the publish connection only when something is published (a dead-letter
   * copy), so a receive-only Job pod holds one broker connection instead of two — a thousand pods
   * starting at once make that a thousand fewer handshakes. Default `publish`.
   */
  usage?: 'consume' | 'publish';
}

export const silentLogger: AdapterLogger = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * Creates the client for the configured backend. Backends are loaded lazily so a RabbitMQ worker
 * never loads the Azure SDK (and the other way round): start-up time matters for a one-message pod.
 */
export async function createQueueClient(config: QueueConfig, options: AdapterOptions = {}): Promise<QueueClient> {
  switch (config.kind) {
    case 'embedded': {
      const { EmbeddedQueueClient } = await import('./embedded/embedded-client.ts');
      return EmbeddedQueueClient.open(config, options);
    }
    case 'rabbitmq': {
      const { RabbitMqQueueClient } = await import('./rabbitmq/rabbitmq-client.ts');
      return RabbitMqQueueClient.connect(config, options);
    }
    case 'servicebus': {
      const { ServiceBusQueueClient } = await import('./servicebus/servicebus-client.ts');
      return ServiceBusQueueClient.connect(config, options);
    }
  }
}
