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
} from './types.ts';
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
export { createQueueClient, silentLogger, type AdapterLogger, type AdapterOptions } from './factory.ts';
export { traceQueueClient } from './tracing.ts';
