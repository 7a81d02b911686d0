/**
 * The exporter app in-process against a real private nginx (stub_status on loopback) and scripted or
 * embedded queues: series and their absence, the metrics API's answers and auth, single flight.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createQueueClient } from '@surge/queue-adapters';
import { startNginx, type NginxInstance } from '@surge/testing';
import { brokerDown, memoryLogger, sample, scriptedQueue, startApp } from './helpers.ts';

let nginx: NginxInstance;
beforeAll(async () => {
  nginx = await startNginx();
});
afterAll(async () => {
  await nginx?.stop();
});

const get = (url: string, headers: Record<string, string> = {}) => fetch(url, { headers });

describe('/metrics with a real nginx', () => {
  it('serves nginx-prometheus-exporter series read at scrape time', async () => {
    const app = await startApp({ config: { nginxStatusUrls: [nginx.statusUrl] } });
    try {
      const before = await (await get(`${app.url}/metrics`)).text();
      expect(sample(before, 'nginx_up')).toBe(1);
      const held = await nginx.holdConnections(4);
      const during = await (await get(`${app.url}/metrics`)).text();
      await held.release();
      expect(sample(during, 'nginx_connections_active')).toBe(sample(before, 'nginx_connections_active')! + 4);
      expect(sample(during, 'nginx_http_requests_total')).toBeGreaterThan(sample(before, 'nginx_http_requests_total')!);
      expect(during).toContain('# TYPE nginx_connections_accepted counter');
      expect(during).toContain('# TYPE nginx_connections_active gauge');
    } finally {
      await app.close();
    }
  });

  it('reports nginx_up 0 with no other nginx series for a malformed stub_status page', async () => {
    const { logger, lines } = memoryLogger();
    const app = await startApp({ logger, config: { nginxStatusUrls: [nginx.malformedStatusUrl] } });
    try {
      for (let i = 0; i < 3; i++) {
        const response = await get(`${app.url}/metrics`);
        expect(response.status).toBe(200);
        const text = await response.text();
        expect(sample(text, 'nginx_up')).toBe(0);
        expect(text).not.toMatch(/^nginx_(connections_\w+|http_requests_total) /m);
      }
      // One warning for the failure, not one per scrape.
      const warnings = lines.filter((l) => l.level === 'warn' && l.code === 'NGINX_STATUS_MALFORMED');
      expect(warnings).toHaveLength(1);
    } finally {
      await app.close();
    }
  });

  it('labels several targets by addr, with constant labels, each with its own nginx_up', async () => {
    const app = await startApp({
      config: { nginxStatusUrls: [nginx.statusUrl, nginx.malformedStatusUrl], constLabels: { cluster: 'eks' } },
    });
    try {
      const text = await (await get(`${app.url}/metrics`)).text();
      expect(sample(text, `nginx_up{cluster="eks",addr="${nginx.statusUrl}"}`)).toBe(1);
      expect(sample(text, `nginx_up{cluster="eks",addr="${nginx.malformedStatusUrl}"}`)).toBe(0);
      expect(sample(text, `nginx_connections_active{cluster="eks",addr="${nginx.statusUrl}"}`)).toBeGreaterThanOrEqual(1);
      expect(sample(text, `surge_queue_up{cluster="eks",queue="work"}`)).toBe(1);
    } finally {
      await app.close();
    }
  });

  it('serves no nginx series at all when no status URL is configured', async () => {
    const app = await startApp({});
    try {
      const text = await (await get(`${app.url}/metrics`)).text();
      expect(text).not.toContain('nginx_');
      expect(text).toContain('surge_queue_up{queue="work"} 1');
    } finally {
      await app.close();
    }
  });

  it('single-flights depth reads: 100 concurrent scrapes cost one depth() call', async () => {
    const queue = scriptedQueue('work', { ready: 12, inFlight: 3, deadLettered: 1 }, 100);
    const app = await startApp({ openClient: async () => queue.client, config: { nginxStatusUrls: [nginx.statusUrl] } });
    try {
      const texts = await Promise.all(Array.from({ length: 100 }, async () => (await get(`${app.url}/metrics`)).text()));
      expect(queue.state.calls).toBe(1);
      for (const text of texts) {
        expect(sample(text, 'surge_queue_messages_ready{queue="work"}')).toBe(12);
        expect(sample(text, 'nginx_up')).toBe(1);
      }
      // And the API shares the same cached reading.
      await Promise.all(Array.from({ length: 100 }, () => get(`${app.url}/api/v1/queues/work`)));
      expect(queue.state.calls).toBe(1);
    } finally {
      await app.close();
    }
  });
});

describe('metrics API', () => {
  it('answers KEDA-readable JSON from the embedded backend', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'surge-exporter-'));
    const config = { kind: 'embedded' as const, dir, leaseMs: 30_000, maxDeliveries: 5, maxProcessingMs: 60_000 };
    const producer = await createQueueClient({ ...config, queue: 'orders' });
    const app = await startApp({
      openClient: (queue) => createQueueClient({ ...config, queue }),
      config: { queues: ['orders', 'other'], depthCacheMs: 0 },
    });
    try {
      await producer.send(Array.from({ length: 6 }, (_, i) => ({ id: `m-${i}`, body: Buffer.from('{}') })));
      const [a, b] = await producer.receive(2, 1_000);
      await a!.deadLetter('test');
      expect(b).toBeDefined();
      const response = await get(`${app.url}/api/v1/queues/orders`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      const body = (await response.json()) as Record<string, unknown>;
      expect(body).toEqual({ queue: 'orders', ready: 4, inFlight: 1, deadLettered: 1, total: 5, observedAt: expect.any(String) });
      expect(Math.abs(Date.parse(body.observedAt as string) - Date.now())).toBeLessThan(60_000);
      expect(await (await get(`${app.url}/api/v1/queues/other`)).json()).toMatchObject({ queue: 'other', ready: 0, total: 0 });
      const metrics = await (await get(`${app.url}/metrics`)).text();
      expect(sample(metrics, 'surge_queue_messages_ready{queue="orders"}')).toBe(4);
      expect(sample(metrics, 'surge_queue_messages_in_flight{queue="orders"}')).toBe(1);
      expect(sample(metrics, 'surge_queue_messages_dead_lettered{queue="orders"}')).toBe(1);
    } finally {
      await app.close();
      await producer.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('404 for a queue it does not export', async () => {
    const app = await startApp({});
    try {
      const response = await get(`${app.url}/api/v1/queues/nope`);
      expect(response.status).toBe(404);
      expect(await response.json()).toEqual({ error: 'unknown_queue', queue: 'nope' });
    } finally {
      await app.close();
    }
  });

  it('503 (never a 200 with 0) while the broker cannot be read, and recovers', async () => {
    const queue = scriptedQueue('work', brokerDown());
    let now = 1_000_000;
    const app = await startApp({ openClient: async () => queue.client, now: () => now, config: { depthCacheMs: 1_000 } });
    try {
      const response = await get(`${app.url}/api/v1/queues/work`);
      expect(response.status).toBe(503);
      const body = (await response.json()) as Record<string, unknown>;
      expect(body).toMatchObject({ error: 'broker_unavailable', queue: 'work', code: 'QUEUE_UNAVAILABLE', retryable: true });
      expect(JSON.stringify(body)).not.toContain('ECONNREFUSED');
      const metrics = await (await get(`${app.url}/metrics`)).text();
      expect(sample(metrics, 'surge_queue_up{queue="work"}')).toBe(0);
      expect(metrics).not.toMatch(/^surge_queue_messages_\w+\{/m);

      queue.state.depth = { ready: 2, inFlight: 0, deadLettered: 0 };
      now += 1_000;
      expect(await (await get(`${app.url}/api/v1/queues/work`)).json()).toMatchObject({ ready: 2, total: 2 });
    } finally {
      await app.close();
    }
  });

  it.each([
    ['ready -5', { ready: -5, inFlight: 0, deadLettered: 0 }],
    ['inFlight 1e308', { ready: 0, inFlight: 1e308, deadLettered: 0 }],
  ])('503 depth_invalid when the backend reports %s: KEDA never gets a number that is no count', async (_what, depth) => {
    const app = await startApp({ openClient: async () => scriptedQueue('work', depth).client, config: { depthCacheMs: 0 } });
    try {
      const response = await get(`${app.url}/api/v1/queues/work`);
      expect(response.status).toBe(503);
      expect(await response.json()).toMatchObject({ error: 'depth_invalid', queue: 'work', code: 'QUEUE_DEPTH_INVALID', retryable: true });
      const metrics = await (await get(`${app.url}/metrics`)).text();
      expect(sample(metrics, 'surge_queue_up{queue="work"}')).toBe(0);
      expect(metrics).not.toMatch(/^surge_queue_messages_\w+\{/m);
    } finally {
      await app.close();
    }
  });

  it('503 when the broker is unreachable from the start (the client cannot even open)', async () => {
    const app = await startApp({
      openClient: async () => Promise.reject(brokerDown()),
      config: { nginxStatusUrls: ['http://127.0.0.1:1/stub_status'] },
    });
    try {
      expect((await get(`${app.url}/livez`)).status).toBe(200);
      expect((await get(`${app.url}/readyz`)).status).toBe(200);
      expect((await get(`${app.url}/api/v1/queues/work`)).status).toBe(503);
      const metrics = await (await get(`${app.url}/metrics`)).text();
      expect(sample(metrics, 'nginx_up')).toBe(0);
      expect(sample(metrics, 'surge_queue_up{queue="work"}')).toBe(0);
    } finally {
      await app.close();
    }
  });

  describe('auth', () => {
    const token = 'token-0123456789abcdef';
    const apiKey = 'key-0123456789abcdef';

    it.each([
      ['bearer only', { metricsApiToken: token }, { authorization: `Bearer ${token}` }, 200],
      ['bearer only, wrong token', { metricsApiToken: token }, { authorization: 'Bearer nope' }, 401],
      ['bearer only, no header', { metricsApiToken: token }, {}, 401],
      ['bearer only, key sent instead', { metricsApiToken: token }, { 'x-api-key': token }, 401],
      ['api key only', { metricsApiKey: apiKey }, { 'X-API-Key': apiKey }, 200],
      ['api key only, wrong key', { metricsApiKey: apiKey }, { 'X-API-Key': 'nope' }, 401],
      ['both configured, bearer sent', { metricsApiToken: token, metricsApiKey: apiKey }, { authorization: `Bearer ${token}` }, 200],
      ['both configured, key sent', { metricsApiToken: token, metricsApiKey: apiKey }, { 'x-api-key': apiKey }, 200],
      ['both configured, nothing sent', { metricsApiToken: token, metricsApiKey: apiKey }, {}, 401],
      ['no auth configured', {}, {}, 200],
    ])('%s → %i', async (_name, secrets, headers, status) => {
      const app = await startApp({ config: secrets });
      try {
        const response = await get(`${app.url}/api/v1/queues/work`, headers);
        expect(response.status).toBe(status);
        if (status === 401) {
          expect(await response.json()).toEqual({ error: 'unauthorized' });
          expect(response.headers.get('www-authenticate')).toBeTruthy();
          // An unknown queue is not revealed to an unauthenticated caller either.
          expect((await get(`${app.url}/api/v1/queues/nope`, headers)).status).toBe(401);
        }
        // /metrics stays open for Prometheus.
        expect((await get(`${app.url}/metrics`)).status).toBe(200);
      } finally {
        await app.close();
      }
    });
  });
});
