import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { runQueueContractSuite } from '@surge/queue-adapters/testing';

const dir = mkdtempSync(path.join(tmpdir(), 'surge-embedded-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

runQueueContractSuite({
  name: 'embedded',
  config: (queue, { maxDeliveries }) => ({ kind: 'embedded', queue, dir, leaseMs: 1_000, maxDeliveries, maxProcessingMs: 60_000 }),
  redeliveryAfterDeathMs: 5_000,
  forbiddenModules: ['@azure/service-bus', '@azure/identity', 'amqplib', 'rhea'],
});
