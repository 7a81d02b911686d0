/**
 * A private Prometheus for tests: the Debian `prometheus` binary with its own config and TSDB in a
 * temp dir, `--web.listen-address=127.0.0.1:<free port>`, scraping the given loopback targets every
 * `scrapeIntervalMs` — never the system service. `query` sends the same instant query a KEDA
 * `prometheus` trigger sends (`GET /api/v1/query?query=…&time=…`) and returns Prometheus' JSON.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sleep } from '@surge/core';
import { freeLoopbackPorts } from '../rabbitmq/ports.ts';

export interface ScrapeTarget {
  job: string;
  /** `127.0.0.1:<port>` — loopback only. */
  target: string;
  metricsPath?: string;
}

export interface StartPrometheusOptions {
  targets: readonly ScrapeTarget[];
  /** Scrape interval (and timeout). Default 1000 ms. */
  scrapeIntervalMs?: number;
  /** Start-up budget. Default 30 s. */
  startTimeoutMs?: number;
}

export interface PromSample {
  metric: Record<string, string>;
  /** [unix seconds, value as a string], as the HTTP API returns it. */
  value: [number, string];
}

export interface PromQueryResponse {
  status: 'success' | 'error';
  data?: { resultType: string; result: PromSample[] };
  errorType?: string;
  error?: string;
}

export interface PrometheusInstance {
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** An instant query at `time` (now by default), the request KEDA's prometheus scaler makes. */
  query(promql: string, time?: Date): Promise<PromQueryResponse>;
  /** Polls `query` until `accept` returns true for its vector, or fails after `timeoutMs` with the last answer. */
  waitFor(promql: string, accept: (result: PromSample[]) => boolean, timeoutMs?: number): Promise<PromSample[]>;
  /** Health of each scrape target (`up`/`down`/`unknown`) and its last error. */
  targets(): Promise<{ job: string; health: string; lastError: string }[]>;
  /** Stops Prometheus and removes its folder. Idempotent. */
  stop(): Promise<void>;
}

function findPrometheus(): string | undefined {
  return ['/usr/bin/prometheus', '/usr/local/bin/prometheus'].find((p) => fs.existsSync(p));
}

function configYaml(targets: readonly ScrapeTarget[], intervalMs: number): string {
  for (const t of targets) {
    if (!/^(127\.0\.0\.1|localhost|\[::1\]):\d+$/.test(t.target)) throw new Error(`scrape target ${t.target} is not on loopback`);
  }
  const interval = `${intervalMs}ms`;
  const jobs = targets
    .map(
      (t) =>
        `  - job_name: ${JSON.stringify(t.job)}\n    metrics_path: ${JSON.stringify(t.metricsPath ?? '/metrics')}\n    static_configs:\n      - targets: [${JSON.stringify(t.target)}]`,
    )
    .join('\n');
  return `global:\n  scrape_interval: ${interval}\n  scrape_timeout: ${interval}\n  evaluation_interval: ${interval}\nscrape_configs:\n${jobs}\n`;
}

export async function startPrometheus(options: StartPrometheusOptions): Promise<PrometheusInstance> {
  const binary = findPrometheus();
  if (!binary)
    throw new Error(
      'Prometheus for tests: install it (`apt-get install -y prometheus`; only the binary is used, the system service stays off)',
    );
  const intervalMs = options.scrapeIntervalMs ?? 1_000;
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  const yaml = configYaml(options.targets, intervalMs);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'surge-prometheus-'));
  const configFile = path.join(dir, 'prometheus.yml');
  fs.writeFileSync(configFile, yaml);

  for (let attempt = 1; ; attempt++) {
    const [port] = (await freeLoopbackPorts(1)) as [number];
    const child = spawn(
      binary,
      [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${path.join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--storage.tsdb.retention.time=1h',
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + startTimeoutMs;
    while (Date.now() < deadline && child.exitCode === null && child.signalCode === null) {
      if (await isReady(url)) return new PrivatePrometheus(child, dir, port);
      await sleep(100);
    }
    await stopChild(child);
    if (attempt < 3 && /address already in use/i.test(stderr)) continue;
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error(`Prometheus did not become ready on 127.0.0.1:${port}: ${stderr.trim().slice(-500)}`);
  }
}

async function isReady(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1_000) });
    await response.body?.cancel();
    return response.status === 200;
  } catch {
    return false;
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

class PrivatePrometheus implements PrometheusInstance {
  readonly port: number;
  readonly url: string;
  private readonly child: ChildProcess;
  private readonly dir: string;
  // If the test process exits without calling stop() (a timed-out hook, a crash), still end the server:
  // SIGTERM, not SIGKILL, so its own workers go with it.
  private readonly onExit = () => this.child.kill('SIGTERM');

  constructor(child: ChildProcess, dir: string, port: number) {
    this.child = child;
    this.dir = dir;
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
    process.once('exit', this.onExit);
  }

  async query(promql: string, time: Date = new Date()): Promise<PromQueryResponse> {
    const params = new URLSearchParams({ query: promql, time: time.toISOString() });
    const response = await fetch(`${this.url}/api/v1/query?${params}`, { signal: AbortSignal.timeout(10_000) });
    return (await response.json()) as PromQueryResponse;
  }

  async waitFor(promql: string, accept: (result: PromSample[]) => boolean, timeoutMs = 30_000): Promise<PromSample[]> {
    const deadline = Date.now() + timeoutMs;
    let last: PromQueryResponse | undefined;
    for (;;) {
      last = await this.query(promql);
      const result = last.data?.result ?? [];
      if (last.status === 'success' && accept(result)) return result;
      if (Date.now() > deadline)
        throw new Error(
          `Prometheus query ${promql} did not reach the expected result within ${timeoutMs} ms; last answer: ${JSON.stringify(last).slice(0, 500)}`,
        );
      await sleep(200);
    }
  }

  async targets(): Promise<{ job: string; health: string; lastError: string }[]> {
    const response = await fetch(`${this.url}/api/v1/targets?state=active`, { signal: AbortSignal.timeout(10_000) });
    const body = (await response.json()) as { data: { activeTargets: { labels: { job: string }; health: string; lastError: string }[] } };
    return body.data.activeTargets.map((t) => ({ job: t.labels.job, health: t.health, lastError: t.lastError }));
  }

  async stop(): Promise<void> {
    process.off('exit', this.onExit);
    await stopChild(this.child);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
