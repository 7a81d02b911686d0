export * from './azurite/index.ts';
export * from './servicebus/index.ts';
export * from './nginx/index.ts';
export * from './prometheus/index.ts';
export * from './workers/index.ts';
export * from './rabbitmq/index.ts';
export * from './scratch/index.ts';
export * from './wait/index.ts';
