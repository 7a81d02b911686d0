/**
 * Against a real Prometheus (Debian package, private instance on loopback): it scrapes a fake
 * exporter + kube-state-metrics endpoint whose gauges change in two phases, then the report reads the
 * range back through the HTTP API, exactly as `keda-local report --prometheus` does for a cluster.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildReport, prometheusQueries, prometheusTimeline, PrometheusQueryError } from '../src/index.ts';

const hasPrometheus = spawnSync('prometheus', ['--version']).status === 0;
if (!hasPrometheus)
  console.warn(
    'prometheus.int.test: the `prometheus` binary is missing (apt-get install -y prometheus); these tests fail instead of skipping',
  );

let phase: 'a' | 'b' = 'a';
/** Scrapes the fake target served, per phase: the test waits on these, never on a fixed time. */
const scrapes = { a: 0, b: 0 };
let targets: Server;
let prometheus: ChildProcess | undefined;
let promUrl = '';
const dir = mkdtempSync(path.join(os.tmpdir(), 'surge-prom-'));

function exposition(): string {
  const [ready, inFlight, dead, deploy, jobs] = phase === 'a' ? [120, 8, 0, 2, [1, 1]] : [0, 0, 3, 5, [1, 1, 1]];
  const lines = [
    `surge_queue_messages_ready{queue="surge-work"} ${ready}`,
    `surge_queue_messages_in_flight{queue="surge-work"} ${inFlight}`,
    `surge_queue_messages_dead_lettered{queue="surge-work"} ${dead}`,
    `surge_queue_messages_ready{queue="other"} 999`,
    `kube_deployment_status_replicas{namespace="surge",deployment="worker-deployment"} ${deploy}`,
    `kube_deployment_status_replicas{namespace="elsewhere",deployment="worker-deployment"} 50`,
    ...(jobs as number[]).map((v, i) => `kube_job_status_active{namespace="surge",job_name="worker-job-x${i}"} ${v}`),
    `kube_job_status_active{namespace="surge",job_name="unrelated-job"} 7`,
  ];
  return `${lines.join('\n')}\n`;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function until(check: () => Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

let start = 0;
let switchAt = 0;
let end = 0;

beforeAll(async () => {
  targets = createServer((_req, res) => {
    scrapes[phase] += 1;
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(exposition());
  });
  await new Promise<void>((resolve) => targets.listen(0, '127.0.0.1', resolve));
  const targetPort = (targets.address() as AddressInfo).port;
  const port = await freePort();
  writeFileSync(
    path.join(dir, 'prometheus.yml'),
    `global: { scrape_interval: 1s, evaluation_interval: 1s }\nscrape_configs:\n  - job_name: fake\n    static_configs: [{ targets: ['127.0.0.1:${targetPort}'] }]\n`,
  );
  prometheus = spawn(
    'prometheus',
    [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    {
      stdio: 'ignore',
    },
  );
  promUrl = `http://127.0.0.1:${port}`;
  await until(async () => (await fetch(`${promUrl}/-/ready`)).ok, 'prometheus ready');
  start = Date.now();
  await until(async () => {
    const body = (await (await fetch(`${promUrl}/api/v1/query?query=surge_queue_messages_ready`)).json()) as {
      data: { result: unknown[] };
    };
    return body.data.result.length > 0;
  }, 'first scrape');
  // Three phase-a scrapes at 1 s intervals put phase-a samples well before the switch; four phase-b
  // scrapes, the last one visible to queries, put phase-b samples well after it.
  const queryable = scrapes.a;
  await until(async () => scrapes.a >= queryable + 3, 'three more phase-a scrapes');
  phase = 'b';
  switchAt = Date.now();
  await until(async () => {
    if (scrapes.b < 4) return false;
    const body = (await (await fetch(`${promUrl}/api/v1/query?query=surge_queue_messages_dead_lettered{queue="surge-work"}`)).json()) as {
      data: { result: { value: [number, string] }[] };
    };
    return body.data.result[0]?.value[1] === '3';
  }, 'four phase-b scrapes, queryable');
  end = Date.now();
}, 60_000);

afterAll(async () => {
  if (prometheus && prometheus.exitCode === null) {
    const exited = new Promise((r) => prometheus!.once('exit', r));
    prometheus.kill('SIGTERM');
    await exited;
  }
  await new Promise((r) => targets?.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe('prometheusTimeline against a real Prometheus', () => {
  it('reads depth from surge_queue_messages_* and replicas from kube-state-metrics, filtered to the queue and namespace', async () => {
    const { timeline, workloads } = await prometheusTimeline({
      url: promUrl,
      start,
      end,
      stepSeconds: 1,
      namespace: 'surge',
      queue: 'surge-work',
    });
    expect(workloads).toEqual(['worker-job', 'worker-deployment']);
    const before = timeline.filter((s) => s.at < switchAt - 1500 && s.depth !== null);
    const after = timeline.filter((s) => s.at > switchAt + 2500 && s.depth !== null);
    expect(before.length).toBeGreaterThan(0);
    expect(after.length).toBeGreaterThan(0);
    expect(before.at(-1)).toMatchObject({
      depth: 128,
      ready: 120,
      inFlight: 8,
      deadLettered: 0,
      replicas: { 'worker-job': 2, 'worker-deployment': 2 },
    });
    expect(after.at(-1)).toMatchObject({
      depth: 0,
      ready: 0,
      inFlight: 0,
      deadLettered: 3,
      replicas: { 'worker-job': 3, 'worker-deployment': 5 },
    });

    const report = buildReport({ title: 'cluster', source: 'prometheus', startedAt: start, endedAt: end, workloads, timeline });
    expect(report.figures.maxDepth).toBe(128);
    expect(report.figures.peak?.replicas).toBe(8);
    expect(report.figures.queueDrainedAtSeconds).not.toBeNull();
  });

  it('deployment: null reads only the Job series (and scaledJob: null only the Deployment), with every query recorded', async () => {
    const sent: string[] = [];
    const recording: typeof fetch = async (input, init) => {
      sent.push(new URL(input instanceof Request ? input.url : input).searchParams.get('query') ?? '');
      return fetch(input, init);
    };
    const jobsOnly = await prometheusTimeline({
      url: promUrl,
      start,
      end,
      stepSeconds: 1,
      namespace: 'surge',
      queue: 'surge-work',
      deployment: null,
      fetch: recording,
    });
    expect(jobsOnly.workloads).toEqual(['worker-job']);
    expect(sent.filter((q) => q.includes('kube_'))).toEqual(['sum(kube_job_status_active{namespace="surge",job_name=~"worker-job-.+"})']);
    expect(sent.some((q) => q.includes('kube_deployment_status_replicas'))).toBe(false);
    expect(Object.keys(jobsOnly.timeline.at(-1)!.replicas)).toEqual(['worker-job']);
    expect(jobsOnly.timeline.filter((s) => s.at > switchAt + 2500 && s.depth !== null).at(-1)?.replicas).toEqual({ 'worker-job': 3 });

    sent.length = 0;
    const deploymentOnly = await prometheusTimeline({
      url: promUrl,
      start,
      end,
      stepSeconds: 1,
      namespace: 'surge',
      queue: 'surge-work',
      scaledJob: null,
      fetch: recording,
    });
    expect(deploymentOnly.workloads).toEqual(['worker-deployment']);
    expect(sent.filter((q) => q.includes('kube_'))).toEqual([
      'sum(kube_deployment_status_replicas{namespace="surge",deployment="worker-deployment"})',
    ]);
    expect(deploymentOnly.timeline.filter((s) => s.at > switchAt + 2500 && s.depth !== null).at(-1)?.replicas).toEqual({
      'worker-deployment': 5,
    });
  });

  it('an unreachable Prometheus is a retryable typed error; a query that is not one series is not', async () => {
    const port = await freePort();
    await expect(
      prometheusTimeline({ url: `http://127.0.0.1:${port}`, start, end, namespace: 'surge', queue: 'surge-work' }),
    ).rejects.toMatchObject({
      code: 'PROMETHEUS_QUERY_FAILED',
      retryable: true,
    });
    expect(prometheusQueries({ namespace: 'a"b', queue: 'q' }).workloads['worker-job']).toBe(
      'sum(kube_job_status_active{namespace="a\\"b",job_name=~"worker-job-.+"})',
    );
    const error = await prometheusTimeline({ url: promUrl, start: end, end: start, namespace: 'surge', queue: 'q' }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(PrometheusQueryError);
  });
});
