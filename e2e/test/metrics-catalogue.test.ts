/**
 * docs/metrics.md against what the apps really serve. The HTTP apps run as real processes sharing
 * one embedded queue: the producer sends a small load, worker-deployment consumes it (plus one
 * invalid message it must dead-letter), the exporter reads the queue's depth and a private nginx's
 * stub_status. Then each `/metrics` is scraped and compared with the catalogue both ways.
 */
import { randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createQueueClient, type QueueConfig } from '@surge/queue-adapters';
import { startNginx, type NginxInstance } from '@surge/testing';
import {
  HTTP_APPS,
  REPO_ROOT,
  labelNamesOf,
  parseExposition,
  patternCovers,
  readCatalogue,
  sampleValue,
  scrape,
  startApp,
  tempDir,
  uniqueQueueName,
  waitUntil,
  type CatalogueRow,
  type HttpApp,
  type MetricFamily,
  type RunningApp,
} from '../src/index.ts';

const LOAD_SIZE = 20;
const OURS = /^(surge|nginx)_/;
/** Labels every series of the app carries (documented once above the table, not per row). */
const APP_LABELS: Record<HttpApp, string[]> = { producer: ['app'], 'worker-deployment': ['app'], exporter: ['cluster'] };

const temp = tempDir('surge-e2e-catalogue-');
const queueName = uniqueQueueName('catalogue');
const queueConfig: QueueConfig = {
  kind: 'embedded',
  queue: queueName,
  dir: path.join(temp.dir, 'queue'),
  leaseMs: 30_000,
  maxDeliveries: 5,
  maxProcessingMs: 60_000,
};
const queueEnv = { QUEUE_KIND: 'embedded', QUEUE_NAME: queueName, EMBEDDED_QUEUE_DIR: queueConfig.dir };

let rows: CatalogueRow[] = [];
let nginx: NginxInstance | undefined;
const apps = new Map<HttpApp, RunningApp>();
const served = new Map<HttpApp, Map<string, MetricFamily>>();

async function metricsOf(app: HttpApp): Promise<Map<string, MetricFamily>> {
  return parseExposition(await scrape(apps.get(app)!));
}

beforeAll(async () => {
  rows = await readCatalogue();
  nginx = await startNginx();
  const started = await Promise.allSettled([
    startApp({ app: 'producer', env: { ...queueEnv, PRODUCER_AUTH_DISABLED: 'true' } }),
    startApp({
      app: 'worker-deployment',
      env: {
        ...queueEnv,
        RESULTS_KIND: 'local',
        RESULTS_DIR: path.join(temp.dir, 'results'),
        WORKER_INSTANCE: 'e2e-catalogue',
        CONCURRENCY: '4',
      },
    }),
    startApp({
      app: 'exporter',
      env: { ...queueEnv, NGINX_STATUS_URL: nginx.statusUrl, EXPORTER_CONST_LABELS: 'cluster=e2e', DEPTH_CACHE_MS: '0' },
    }),
  ]);
  for (const result of started) if (result.status === 'fulfilled') apps.set(result.value.app as HttpApp, result.value);
  const failed = started.find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;

  // A load through the producer, and one message no schema accepts (for the dead-letter series).
  const producer = apps.get('producer')!.url!;
  const posted = await fetch(`${producer}/load`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ count: LOAD_SIZE, work: { durationMs: 0 } }),
  });
  expect(posted.status, await posted.clone().text()).toBe(202);
  const { loadId } = (await posted.json()) as { loadId: string };
  const queue = await createQueueClient(queueConfig);
  try {
    await queue.send([{ id: randomUUID(), body: new TextEncoder().encode('{"not":"a work message"}') }]);
  } finally {
    await queue.close();
  }
  await waitUntil(
    async () => ((await (await fetch(`${producer}/load/${loadId}`)).json()) as { state: string }).state === 'completed',
    'the load to be sent',
  );
  await waitUntil(async () => {
    const worker = await metricsOf('worker-deployment');
    return (
      (sampleValue(worker, 'surge_worker_messages_processed_total', { result: 'written' }) ?? 0) >= LOAD_SIZE &&
      (sampleValue(worker, 'surge_worker_messages_dead_lettered_total', { reason: 'InvalidMessage' }) ?? 0) >= 1
    );
  }, `worker-deployment to process ${LOAD_SIZE} messages and dead-letter one`);
  for (const app of HTTP_APPS) served.set(app, await metricsOf(app));
}, 120_000);

afterAll(async () => {
  await Promise.all([...apps.values()].map((app) => app.stop()));
  await nginx?.stop();
  temp.remove();
});

const rowsServedBy = (app: string) => rows.filter((row) => row.apps.includes(app));

describe.each(HTTP_APPS)('%s /metrics against docs/metrics.md', (app) => {
  it('serves no surge_/nginx_ family the catalogue does not list for it, with the same type and only documented labels', () => {
    const families = [...served.get(app)!.values()].filter((f) => OURS.test(f.name));
    expect(families.length).toBeGreaterThan(0);
    const problems: string[] = [];
    for (const family of families) {
      const row = rowsServedBy(app).find((r) => r.names.includes(family.name));
      if (!row) {
        problems.push(`${family.name} (${family.type}) is served but not in the catalogue for ${app}`);
        continue;
      }
      if (row.type !== family.type) problems.push(`${family.name}: served as ${family.type}, catalogued as ${row.type}`);
      if (family.help.trim() === '') problems.push(`${family.name}: no help text`);
      const undocumented = [...labelNamesOf(family)].filter((label) => !row.labels.includes(label) && !APP_LABELS[app].includes(label));
      if (undocumented.length > 0) problems.push(`${family.name}: labels ${undocumented.join(', ')} are not in the catalogue row`);
    }
    expect(problems).toEqual([]);
  });

  it('serves every family the catalogue lists for it', () => {
    const families = served.get(app)!;
    const missing = rowsServedBy(app)
      .flatMap((row) => row.names)
      .filter((name) => !families.has(name));
    expect(missing).toEqual([]);
    // Groups (prom-client's defaults) are served when listed: at least one family per pattern.
    for (const row of rowsServedBy(app).filter((r) => r.type === 'group')) {
      for (const pattern of row.patterns)
        expect(
          [...families.keys()].some((name) => patternCovers(pattern, name)),
          `${pattern} on ${app}`,
        ).toBe(true);
    }
  });

  it('serves nothing outside the catalogue: every other family belongs to a documented group', () => {
    const groups = rowsServedBy(app).flatMap((row) => row.patterns);
    const stray = [...served.get(app)!.keys()].filter(
      (name) => !OURS.test(name) && !groups.some((pattern) => patternCovers(pattern, name)),
    );
    expect(stray).toEqual([]);
  });
});

describe('the exercise produced the labelled series the catalogue describes', () => {
  it('producer counted the confirmed load', () => {
    const producer = served.get('producer')!;
    expect(sampleValue(producer, 'surge_producer_messages_sent_total')).toBe(LOAD_SIZE);
    expect(sampleValue(producer, 'surge_producer_loads_finished_total', { outcome: 'completed' })).toBe(1);
    expect(sampleValue(producer, 'surge_producer_send_duration_seconds_count')).toBeGreaterThanOrEqual(1);
  });

  it('worker-deployment counted the work, the dead letter and end-to-end latency', () => {
    const worker = served.get('worker-deployment')!;
    expect(sampleValue(worker, 'surge_worker_messages_processed_total', { result: 'written' })).toBe(LOAD_SIZE);
    expect(sampleValue(worker, 'surge_worker_messages_dead_lettered_total', { reason: 'InvalidMessage' })).toBe(1);
    expect(sampleValue(worker, 'surge_worker_end_to_end_seconds_count')).toBe(LOAD_SIZE);
    expect(sampleValue(worker, 'surge_worker_processing_seconds_count', { outcome: 'dead-lettered' })).toBe(1);
    expect(sampleValue(worker, 'surge_worker_consumer_attached')).toBe(1);
  });

  it('exporter read nginx and the queue (empty, one dead letter), with its constant label', () => {
    const exporter = served.get('exporter')!;
    expect(sampleValue(exporter, 'nginx_up', { cluster: 'e2e' })).toBe(1);
    expect(sampleValue(exporter, 'nginx_http_requests_total')).toBeGreaterThanOrEqual(1);
    expect(sampleValue(exporter, 'surge_queue_up', { queue: queueName, cluster: 'e2e' })).toBe(1);
    expect(sampleValue(exporter, 'surge_queue_messages_ready', { queue: queueName })).toBe(0);
    expect(sampleValue(exporter, 'surge_queue_messages_dead_lettered', { queue: queueName })).toBe(1);
    expect(sampleValue(exporter, 'surge_queue_depth_reads_total', { queue: queueName, outcome: 'ok' })).toBeGreaterThanOrEqual(1);
  });
});

describe('worker-job (no HTTP)', () => {
  it('runs to exit 0 on an empty queue, and the catalogue lists nothing as served by it', async () => {
    const job = await startApp({
      app: 'worker-job',
      http: false,
      env: {
        QUEUE_KIND: 'embedded',
        QUEUE_NAME: uniqueQueueName('catalogue-job'),
        EMBEDDED_QUEUE_DIR: queueConfig.dir,
        RESULTS_DIR: path.join(temp.dir, 'job-results'),
        RECEIVE_WAIT_MS: '500',
      },
    });
    const timer = setTimeout(() => job.process.kill('SIGKILL'), 30_000);
    try {
      expect(await job.process.exited, job.process.stderr()).toEqual({ code: 0, signal: null });
    } finally {
      clearTimeout(timer);
    }
    expect(rowsServedBy('worker-job')).toEqual([]);
  });

  it('registers no metric of its own in its source (else the catalogue must list it as "(not served)")', async () => {
    const source = await sourceMetricNames(path.join(REPO_ROOT, 'apps', 'worker-job', 'src'));
    const notServed = rows.filter((row) => row.notServed.includes('worker-job')).flatMap((row) => row.names);
    expect(source.filter((name) => !notServed.includes(name))).toEqual([]);
  });
});

/** `'surge_…'`/`'nginx_…'` string literals in non-test TypeScript under `dir`: metric definitions (and queries). */
async function sourceMetricNames(dir: string): Promise<string[]> {
  const names = new Set<string>();
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (!entry.isFile() || !entry.name.endsWith('.ts') || entry.name.endsWith('.test.ts')) continue;
    const text = await readFile(path.join(entry.parentPath, entry.name), 'utf8');
    for (const match of text.matchAll(/['"]((?:surge|nginx)_[a-z0-9_]*[a-z0-9])['"]/g)) names.add(match[1]!);
  }
  return [...names].sort();
}

describe('source', () => {
  it('every surge_/nginx_ metric name written in an app or lib is in the catalogue', async () => {
    const dirs = [
      ...(await readdir(path.join(REPO_ROOT, 'apps'))).map((a) => path.join(REPO_ROOT, 'apps', a, 'src')),
      ...(await readdir(path.join(REPO_ROOT, 'libs'))).map((l) => path.join(REPO_ROOT, 'libs', l, 'src')),
    ];
    const found = new Set<string>();
    for (const dir of dirs) for (const name of await sourceMetricNames(dir)) found.add(name);
    const catalogued = new Set(rows.flatMap((row) => row.names));
    expect(found.size).toBeGreaterThan(0);
    expect([...found].filter((name) => !catalogued.has(name))).toEqual([]);
    console.log(`metric names in source: ${[...found].sort().join(', ')}`);
  });
});
