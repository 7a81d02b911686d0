/**
 * The `report` command as a process, on real data:
 * - `--compare`: two real `keda-local demo` runs (a ScaledJob in job mode and a ScaledObject in
 *   deployment mode, each on its own queue) compared; the comparison must carry each run's own
 *   figures, and the HTML both runs. Bad input is one line on stderr and a non-zero exit.
 * - `--prometheus … --deployment none` against a real Prometheus (Debian package, private, loopback)
 *   behind a recording proxy: only the Job series is queried.
 * Timings are not asserted.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ScaleComparison, ScaleReport } from '@surge/scale-report';
import { startPrometheus, type PrometheusInstance } from '@surge/testing';

const appDir = path.resolve(import.meta.dirname, '..');
const root = mkdtempSync(path.join(os.tmpdir(), 'surge-keda-local-report-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface Exited {
  code: number | null;
  stdout: string;
  stderr: string;
}

function keda(args: string[], env: Record<string, string> = {}, timeoutMs = 200_000): Promise<Exited> {
  const child = spawn(process.execPath, ['src/main.ts', ...args], {
    cwd: appDir,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', INIT_CWD: root, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGINT'), timeoutMs);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

const readJson = <T>(file: string): T => JSON.parse(readFileSync(file, 'utf8')) as T;

describe('report --compare over two real demo runs', () => {
  const queues = { job: `cmp-job-${process.pid}`, deployment: `cmp-so-${process.pid}` };
  const runs = { job: path.join(root, 'run-job'), deployment: path.join(root, 'run-deployment') };

  beforeAll(async () => {
    // 300 messages each, short work: enough for 0 → N → 0 in both modes, run side by side.
    const demo = (mode: 'job' | 'deployment') =>
      keda(
        [
          'demo',
          '--mode',
          mode,
          '--count',
          '300',
          '--work-ms',
          '20',
          '--hpa-sync-seconds',
          '3',
          '--job-batch',
          '20',
          '--progress',
          'off',
          '--out',
          runs[mode],
        ],
        { QUEUE_NAME: queues[mode], EMBEDDED_QUEUE_LEASE_MS: '2000' },
      );
    const [job, deployment] = await Promise.all([demo('job'), demo('deployment')]);
    for (const [name, run] of Object.entries({ job, deployment }))
      if (run.code !== 0) throw new Error(`demo ${name} exited ${run.code}\n${run.stdout}\n${run.stderr}`);
  }, 240_000);

  it("writes compare.json and compare.html whose figures are each run's own report figures", async () => {
    const out = path.join(root, 'compare');
    const run = await keda([
      'report',
      '--compare',
      path.join(runs.job, 'report.json'),
      path.join(runs.deployment, 'report.json'),
      '--out',
      out,
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`compare: ${path.join(out, 'compare.html')}`);

    const job = readJson<ScaleReport>(path.join(runs.job, 'report.json'));
    const deployment = readJson<ScaleReport>(path.join(runs.deployment, 'report.json'));
    const comparison = readJson<ScaleComparison>(path.join(out, 'compare.json'));
    expect(comparison.runs.map((r) => r.label)).toEqual([
      `ScaledJob/worker-job · queue ${queues.job}`,
      `ScaledObject/worker-deployment · queue ${queues.deployment}`,
    ]);
    for (const [i, report] of [job, deployment].entries()) {
      const compared = comparison.runs[i]!;
      expect(compared.figures).toEqual(report.figures);
      expect(compared.latency).toEqual(report.latency);
      expect(compared.accounting).toEqual(report.accounting);
      expect(compared.accounting).toMatchObject({ sent: 300, results: 300, lost: 0 });
      expect(compared.timeline).toHaveLength(report.timeline.length);
      expect(compared.timeline.at(-1)).toMatchObject({ t: Math.round(report.timeline.at(-1)!.at - report.startedAt) / 1000, replicas: 0 });
    }
    const row = (key: string) => comparison.rows.find((r) => r.key === key)!;
    expect(row('peakReplicas').values).toEqual([job.figures.peak!.replicas, deployment.figures.peak!.replicas]);
    expect(row('backToZeroAtSeconds').values).toEqual([job.figures.backToZeroAtSeconds, deployment.figures.backToZeroAtSeconds]);
    expect(row('latencyP95Ms').values).toEqual([job.latency!.p95Ms, deployment.latency!.p95Ms]);
    expect(row('sent').versusFirst[0]).toEqual({ key: 'B', difference: 0, ratio: 1 });

    const html = readFileSync(path.join(out, 'compare.html'), 'utf8');
    expect(html).not.toMatch(/<script|<link|https?:\/\//i);
    expect(html.split(`A: ScaledJob/worker-job · queue ${queues.job}`).length - 1).toBe(2);
    expect(html.split(`B: ScaledObject/worker-deployment · queue ${queues.deployment}`).length - 1).toBe(2);
  });

  it('--label names the runs', async () => {
    const out = path.join(root, 'compare-labelled');
    const run = await keda([
      'report',
      '--compare',
      runs.deployment,
      runs.job,
      '--label',
      'ScaledObject 0-5',
      '--label',
      'ScaledJob',
      '--out',
      out,
    ]);
    expect(run.code).toBe(0);
    expect(readJson<ScaleComparison>(path.join(out, 'compare.json')).runs.map((r) => r.label)).toEqual(['ScaledObject 0-5', 'ScaledJob']);
  });

  it('bad input: one line naming the file or flag, non-zero exit, nothing written', async () => {
    const bad = path.join(root, 'bad');
    mkdirSync(bad, { recursive: true });
    writeFileSync(path.join(bad, 'package.json'), JSON.stringify({ name: 'x' }));
    writeFileSync(path.join(bad, 'v2.json'), JSON.stringify({ ...readJson<ScaleReport>(path.join(runs.job, 'report.json')), version: 2 }));
    const good = path.join(runs.job, 'report.json');
    const cases: [string[], number, RegExp][] = [
      [
        [path.join(bad, 'missing', 'report.json'), good],
        1,
        /^keda-local: .*missing\/report\.json: no such file \(expected a run's report\.json\)$/,
      ],
      [[path.join(bad, 'package.json'), good], 1, /^keda-local: .*package\.json: not a scale report/],
      [[good, path.join(bad, 'v2.json')], 1, /^keda-local: .*v2\.json: scale report version 2; this build reads version 1/],
      [[good], 2, /^configuration error: --compare: expected two or more report\.json files/],
    ];
    for (const [files, code, line] of cases) {
      const out = path.join(bad, 'out');
      const run = await keda(['report', '--compare', ...files, '--out', out]);
      expect(run.code, files.join(' ')).toBe(code);
      expect(run.stderr.trim().split('\n'), run.stderr).toHaveLength(1);
      expect(run.stderr.trim()).toMatch(line);
      expect(() => readFileSync(path.join(out, 'compare.json'))).toThrow();
    }
  });
});

describe('report --prometheus selecting one workload, against a real Prometheus', () => {
  let targets: Server;
  let proxy: Server;
  let prometheus: PrometheusInstance;
  let proxyUrl = '';
  const queries: string[] = [];
  let start = 0;

  beforeAll(async () => {
    // What the exporter and kube-state-metrics expose for one ScaledJob and one ScaledObject.
    const exposition = [
      'surge_queue_messages_ready{queue="surge-job"} 40',
      'surge_queue_messages_in_flight{queue="surge-job"} 2',
      'surge_queue_messages_dead_lettered{queue="surge-job"} 0',
      'kube_job_status_active{namespace="surge",job_name="worker-job-a1"} 1',
      'kube_job_status_active{namespace="surge",job_name="worker-job-b2"} 1',
      'kube_deployment_status_replicas{namespace="surge",deployment="worker-deployment"} 4',
    ].join('\n');
    targets = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(`${exposition}\n`));
    await new Promise<void>((resolve) => targets.listen(0, '127.0.0.1', resolve));
    prometheus = await startPrometheus({ targets: [{ job: 'fake', target: `127.0.0.1:${(targets.address() as AddressInfo).port}` }] });
    start = Date.now();
    await prometheus.waitFor('kube_deployment_status_replicas', (r) => r.length > 0, 30_000);
    await new Promise((r) => setTimeout(r, 3000));
    // A recording proxy in front of it: every query the report sends is kept.
    const upstream = new URL(prometheus.url);
    proxy = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://proxy');
      if (url.pathname.endsWith('/query_range')) queries.push(url.searchParams.get('query') ?? '');
      const forwarded = request(
        { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      forwarded.on('error', () => res.writeHead(502).end());
      req.pipe(forwarded);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  }, 90_000);

  afterAll(async () => {
    await prometheus?.stop();
    await Promise.all([targets, proxy].map((s) => new Promise((r) => (s ? s.close(r) : r(undefined)))));
  });

  it('--deployment none queries only the Job series and reports only the ScaledJob', async () => {
    queries.length = 0;
    const out = path.join(root, 'prom-job');
    const run = await keda([
      'report',
      '--prometheus',
      proxyUrl,
      '--start',
      String(start / 1000),
      '--end',
      'now',
      '--step',
      '1',
      '--namespace',
      'surge',
      '--queue',
      'surge-job',
      '--deployment',
      'none',
      '--out',
      out,
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(queries.filter((q) => q.includes('kube_'))).toEqual([
      'sum(kube_job_status_active{namespace="surge",job_name=~"worker-job-.+"})',
    ]);
    expect(queries.filter((q) => q.includes('surge_queue_messages_')).sort()).toEqual([
      'sum(surge_queue_messages_dead_lettered{queue="surge-job"})',
      'sum(surge_queue_messages_in_flight{queue="surge-job"})',
      'sum(surge_queue_messages_ready{queue="surge-job"})',
    ]);
    const report = readJson<ScaleReport>(path.join(out, 'report.json'));
    expect(report).toMatchObject({
      workloads: ['worker-job'],
      workloadKinds: { 'worker-job': 'ScaledJob' },
      queue: 'surge-job',
      source: 'prometheus',
    });
    expect(report.timeline.filter((s) => s.depth !== null).at(-1)).toMatchObject({ depth: 42, replicas: { 'worker-job': 2 } });
    expect(Object.keys(report.settings).filter((k) => k.endsWith(' query'))).toEqual(['worker-job query', 'depth query']);
  });

  it('--scaled-job none queries only the Deployment series', async () => {
    queries.length = 0;
    const out = path.join(root, 'prom-so');
    const run = await keda([
      'report',
      '--prometheus',
      proxyUrl,
      '--start',
      String(start / 1000),
      '--end',
      'now',
      '--step',
      '1',
      '--namespace',
      'surge',
      '--queue',
      'surge-job',
      '--scaled-job',
      'none',
      '--out',
      out,
    ]);
    expect(run.code).toBe(0);
    expect(queries.filter((q) => q.includes('kube_'))).toEqual([
      'sum(kube_deployment_status_replicas{namespace="surge",deployment="worker-deployment"})',
    ]);
    expect(readJson<ScaleReport>(path.join(out, 'report.json'))).toMatchObject({
      workloads: ['worker-deployment'],
      workloadKinds: { 'worker-deployment': 'ScaledObject' },
    });
  });
});
