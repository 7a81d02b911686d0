/**
 * The real exporter process (`node src/main.ts`) scraped by a real Prometheus, with a real nginx:
 * the instant query a KEDA `prometheus` trigger sends returns exactly one series with the number of
 * connections held open; nginx going away gives `nginx_up 0` (and an empty result for the trigger,
 * never a stale number); SIGTERM exits 0 within the 5 s budget; nothing up at start is no crash.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freeLoopbackPorts, startNginx, startPrometheus, type NginxInstance, type PrometheusInstance } from '@surge/testing';
import { sample, spawnExporter, type ExporterProcess } from './helpers.ts';

describe('exporter process scraped by Prometheus', () => {
  let nginx: NginxInstance;
  let exporter: ExporterProcess;
  let prometheus: PrometheusInstance;
  const dir = mkdtempSync(path.join(tmpdir(), 'surge-exporter-proc-'));

  beforeAll(async () => {
    nginx = await startNginx();
    exporter = await spawnExporter({
      NGINX_STATUS_URL: nginx.statusUrl,
      EXPORTER_CONST_LABELS: 'cluster=test',
      QUEUE_KIND: 'embedded',
      EMBEDDED_QUEUE_DIR: dir,
      QUEUE_NAME: 'prom-q',
      DEPTH_CACHE_MS: '500',
    });
    prometheus = await startPrometheus({ targets: [{ job: 'exporter', target: new URL(exporter.url).host }], scrapeIntervalMs: 500 });
  });
  afterAll(async () => {
    await prometheus?.stop();
    await exporter?.terminate();
    await nginx?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  // What a KEDA prometheus trigger on the EKS scenario sends: one number for the whole nginx fleet.
  const kedaQuery = 'sum(nginx_connections_active{cluster="test"})';

  it('returns exactly one series with the held connections to the KEDA-style instant query', async () => {
    await prometheus.waitFor('nginx_up{job="exporter"} == 1', (r) => r.length === 1);
    const [baselineSample] = await prometheus.waitFor(kedaQuery, (r) => r.length === 1);
    const baseline = Number(baselineSample!.value[1]);
    // The exporter's own stub_status connection is the only one nginx sees between scrapes.
    expect(baseline).toBeGreaterThanOrEqual(1);

    const held = await nginx.holdConnections(7);
    try {
      await prometheus.waitFor(kedaQuery, (r) => r.length === 1 && Number(r[0]!.value[1]) === baseline + 7);
      const answer = await prometheus.query(kedaQuery, new Date());
      expect(answer.status).toBe('success');
      expect(answer.data?.resultType).toBe('vector');
      expect(answer.data?.result).toHaveLength(1);
      expect(answer.data?.result[0]?.metric).toEqual({});
      expect(Number(answer.data?.result[0]?.value[1])).toBe(baseline + 7);
    } finally {
      await held.release();
    }
    await prometheus.waitFor(kedaQuery, (r) => r.length === 1 && Number(r[0]!.value[1]) === baseline);
    // The queue depth gauges are scraped too.
    await prometheus.waitFor('surge_queue_up{queue="prom-q",cluster="test"} == 1', (r) => r.length === 1);
    expect((await prometheus.targets()).map((t) => t.health)).toEqual(['up']);
  });

  it('keeps /metrics at 200 with nginx_up 0 once nginx stops; the trigger query goes empty, not stale', async () => {
    await nginx.stop();
    const response = await fetch(`${exporter.url}/metrics`);
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(sample(text, 'nginx_up{cluster="test"}')).toBe(0);
    expect(text).not.toMatch(/^nginx_connections_active/m);
    await prometheus.waitFor('nginx_up{job="exporter"} == 0', (r) => r.length === 1);
    // Staleness: the series is gone from the instant query (KEDA sees an empty result and, with
    // ignoreNullValues: "false", errors into its fallback instead of reading 0).
    await prometheus.waitFor(kedaQuery, (r) => r.length === 0);
    expect((await prometheus.targets()).map((t) => t.health)).toEqual(['up']);
  });

  it('exits 0 on SIGTERM within its 5 s grace budget', async () => {
    const { code, ms } = await exporter.terminate();
    // handleShutdownSignals exits 1 when the stop overruns SHUTDOWN_GRACE_MS (5 s), so 0 proves the budget held.
    expect(code).toBe(0);
    console.info(`exporter stopped ${ms} ms after SIGTERM`);
    expect(exporter.output()).toContain('"exporter stopped"');
  });
});

describe('exporter process with nothing to read', () => {
  it('starts, serves up 0 and 503, and stops cleanly while nginx and RabbitMQ are down', async () => {
    const [closedPort, amqpPort, managementPort] = (await freeLoopbackPorts(3)) as [number, number, number];
    const exporter = await spawnExporter({
      NGINX_STATUS_URL: `http://127.0.0.1:${closedPort}/stub_status`,
      QUEUE_KIND: 'rabbitmq',
      RABBITMQ_URL: `amqp://guest:secret-password@127.0.0.1:${amqpPort}/`,
      RABBITMQ_MANAGEMENT_URL: `http://guest:secret-password@127.0.0.1:${managementPort}`,
      QUEUE_NAME: 'down-q',
      DEPTH_TIMEOUT_MS: '2000',
      METRICS_API_KEY: 'key-0123456789abcdef',
    });
    try {
      expect((await fetch(`${exporter.url}/livez`)).status).toBe(200);
      expect((await fetch(`${exporter.url}/readyz`)).status).toBe(200);
      const metrics = await fetch(`${exporter.url}/metrics`);
      expect(metrics.status).toBe(200);
      const text = await metrics.text();
      expect(sample(text, 'nginx_up')).toBe(0);
      expect(sample(text, 'surge_queue_up{queue="down-q"}')).toBe(0);
      expect(text).toContain('process_cpu_seconds_total');
      const api = await fetch(`${exporter.url}/api/v1/queues/down-q`, { headers: { 'x-api-key': 'key-0123456789abcdef' } });
      expect(api.status).toBe(503);
      expect(await api.json()).toMatchObject({ error: 'broker_unavailable', queue: 'down-q' });
    } finally {
      const { code } = await exporter.terminate();
      expect(code).toBe(0);
    }
    expect(exporter.output()).not.toContain('secret-password');
    expect(exporter.output()).toContain('nginx stub_status read failed');
  });
});
