import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { QueueClient } from '@surge/queue-adapters';
import { parseScaledObject } from '@surge/scaling';
import { createTriggerReader, localMetricsUrl, valueAt } from './triggers.ts';

const so = (triggers: unknown[]) =>
  parseScaledObject({
    apiVersion: 'keda.sh/v1alpha1',
    kind: 'ScaledObject',
    metadata: { name: 's' },
    spec: { scaleTargetRef: { name: 'd' }, triggers },
  }).spec.triggers;

const depthOnly = (ready: number, inFlight: number) =>
  ({ depth: async () => ({ ready, inFlight, deadLettered: 0 }) }) as unknown as QueueClient;

describe('trigger reading', () => {
  it('points a metrics-api trigger at the local exporter and the demo queue', () => {
    expect(localMetricsUrl('http://127.0.0.1:9113/api/v1/queues/surge-work', 'http://127.0.0.1:4321', 'e2e-q')).toBe(
      'http://127.0.0.1:4321/api/v1/queues/e2e-q',
    );
    expect(localMetricsUrl('http://exporter.surge:9113/custom?x=1', 'http://127.0.0.1:4321', 'q')).toBe('http://127.0.0.1:4321/custom?x=1');
    expect(valueAt({ a: [{ b: '7' }] }, 'a.0.b')).toBe('7');
  });

  it('reads metrics-api over HTTP (non-200 is an error) and broker triggers from the adapter depth', async () => {
    let status = 200;
    let hits = 0;
    const server = createServer((_req, res) => {
      hits += 1;
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ total: 42, ready: 40 }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const read = createTriggerReader({ exporterUrl: url, queue: 'q', queueClient: depthOnly(5, 3), shareMs: 0 });
      const triggers = so([
        { type: 'metrics-api', metadata: { url: 'http://x:9113/api/v1/queues/surge-work', valueLocation: 'total', targetValue: '4' } },
        { type: 'rabbitmq', metadata: { queueName: 'q', host: 'http://g:g@h:15672/', mode: 'QueueLength', value: '5' } },
        { type: 'rabbitmq', metadata: { queueName: 'q', host: 'amqp://g:g@h:5672/', mode: 'QueueLength', value: '5' } },
        { type: 'azure-servicebus', metadata: { queueName: 'q', connectionFromEnv: 'X' } },
      ]);
      expect(await read(triggers)).toEqual([{ value: 42 }, { value: 8 }, { value: 5 }, { value: 8 }]);
      status = 503;
      expect((await read(triggers))[0]).toEqual({ error: expect.stringContaining('503') });

      const shared = createTriggerReader({ exporterUrl: url, queue: 'q', queueClient: depthOnly(0, 0), shareMs: 10_000 });
      const before = hits;
      await Promise.all([shared(triggers.slice(0, 1)), shared(triggers.slice(0, 1))]);
      expect(hits - before).toBe(1);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
