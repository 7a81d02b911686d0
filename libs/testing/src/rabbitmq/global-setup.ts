/**
 * A vitest `globalSetup` that starts one RabbitMQ broker for a whole test run and hands its
 * endpoint to the test files (`providedRabbitMq()`), so no file pays the 5–15 s start-up again.
 *
 *   // vitest.config.ts
 *   test: { globalSetup: ['./test/rabbitmq.global-setup.ts'] }
 *   // test/rabbitmq.global-setup.ts
 *   export { rabbitMqGlobalSetup as default } from '@surge/testing';
 */
import type { TestProject } from 'vitest/node';
import { startRabbitMq, type RabbitMqEndpoint, type RabbitMqSource } from './rabbitmq-node.ts';

export interface ProvidedRabbitMq extends RabbitMqEndpoint {
  source: RabbitMqSource;
}

declare module 'vitest' {
  export interface ProvidedContext {
    surgeRabbitMq: ProvidedRabbitMq;
  }
}

export async function rabbitMqGlobalSetup(project: TestProject): Promise<() => Promise<void>> {
  const broker = await startRabbitMq();
  project.provide('surgeRabbitMq', { url: broker.url, managementUrl: broker.managementUrl, source: broker.source });
  return () => broker.stop();
}

/** In a test file: the broker the global setup started. */
export async function providedRabbitMq(): Promise<ProvidedRabbitMq> {
  // Imported lazily so that importing @surge/testing outside vitest (bench/) does not load vitest.
  const { inject } = await import('vitest');
  const provided = inject('surgeRabbitMq');
  if (!provided) throw new Error("no RabbitMQ provided: add rabbitMqGlobalSetup to this project's vitest globalSetup");
  return provided;
}
