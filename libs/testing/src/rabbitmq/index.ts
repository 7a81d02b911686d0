export {
  startRabbitMq,
  RabbitMqUnavailableError,
  type RabbitMqEndpoint,
  type RabbitMqInstance,
  type RabbitMqSource,
  type StartRabbitMqOptions,
} from './rabbitmq-node.ts';
export { rabbitMqGlobalSetup, providedRabbitMq, type ProvidedRabbitMq } from './global-setup.ts';
export { freeLoopbackPorts, portAnswers } from './ports.ts';
