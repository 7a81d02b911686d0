export type {
  QueueKind,
  OutgoingMessage,
  Delivery,
  DeadLetter,
  QueueDepth,
  DeliveryHandler,
  ConsumeOptions,
  Consumer,
  QueueClient,
  AdapterOptions,
} from './types.ts';
export { DeadLetterReasons } from './types.ts';
export { QueueError, QueueErrorCodes, isQueueError, type QueueErrorCode, type QueueErrorKind } from './errors.ts';
export {
  type QueueConfig,
  type CommonQueueConfig,
  type EmbeddedQueueConfig,
  type RabbitMqQueueConfig,
  type ServiceBusQueueConfig,
  QUEUE_KINDS,
  DEFAULT_QUEUE_NAME,
  queueConfigFromEnv,
  readQueueName,
  checkServiceBusConnectionString,
} from './config.ts';
export { createQueueClient } from './factory.ts';
export { traceQueueClient } from './tracing.ts';
export { openWhenAvailable, type OpenWhenAvailableOptions } from './deferred-client.ts';
