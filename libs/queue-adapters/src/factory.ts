import type { QueueConfig } from './config.ts';
import type { AdapterOptions, QueueClient } from './types.ts';

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
