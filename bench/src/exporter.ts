/**
 * `npm run bench -- exporter [--concurrency 100] [--seconds 8] [--rounds 2]`
 *
 * The exporter's /metrics under a scrape storm, against a bare fastify route returning the same
 * bytes, in the same run: a private nginx (stub_status on loopback), the real exporter process
 * (`apps/exporter/src/main.ts`, embedded queue, default DEPTH_CACHE_MS so depth is a warm cache),
 * and the baseline server process. `concurrency` keep-alive connections (undici Pool) each loop
 * GET /metrics for `seconds`; phases alternate baseline/exporter for `rounds` rounds. Prints
 * requests/s, p50/p99 latency, the ratio (target ≥ 0.5×), and what the storm cost nginx and the broker.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { startNginx } from '@surge/testing';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');

interface PhaseResult {
  requests: number;
  errors: number;
  seconds: number;
  latenciesMs: number[];
}

/** Spawns a node process and resolves with the first stdout JSON line that has a `port`. */
async function spawnWithPort(args: string[], env: Record<string, string>, cwd: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, args, { cwd, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args[0]} did not start: ${output}`)), 30_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      for (const line of output.split('\n')) {
        if (!line.startsWith('{')) continue;
        const parsed = JSON.parse(line) as { port?: number };
        if (typeof parsed.port === 'number') {
          clearTimeout(timer);
          resolve(parsed.port);
        }
      }
    });
    child.once('exit', (code) => reject(new Error(`${args[0]} exited with ${code}: ${output}`)));
  });
  return { child, port };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

async function phase(port: number, concurrency: number, seconds: number): Promise<PhaseResult> {
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: concurrency, pipelining: 1 });
  const latenciesMs: number[] = [];
  let requests = 0;
  let errors = 0;
  const started = performance.now();
  const end = started + seconds * 1000;
  const worker = async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      try {
        const response = await pool.request({ path: '/metrics', method: 'GET' });
        await response.body.text();
        if (response.statusCode === 200) requests++;
        else errors++;
      } catch {
        errors++;
      }
      latenciesMs.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - started) / 1000;
  await pool.close();
  return { requests, errors, seconds: elapsed, latenciesMs };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function summarize(results: PhaseResult[]) {
  const requests = results.reduce((n, r) => n + r.requests, 0);
  const errors = results.reduce((n, r) => n + r.errors, 0);
  const seconds = results.reduce((n, r) => n + r.seconds, 0);
  const sorted = results.flatMap((r) => r.latenciesMs).sort((a, b) => a - b);
  return { rps: requests / seconds, errors, p50: percentile(sorted, 50), p99: percentile(sorted, 99), requests };
}

async function metricsText(port: number): Promise<{ text: string; contentType: string }> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  return { text: await response.text(), contentType: response.headers.get('content-type') ?? 'text/plain' };
}

function value(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? NaN : Number(line.slice(series.length + 1));
}

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      concurrency: { type: 'string', default: '100' },
      seconds: { type: 'string', default: '8' },
      rounds: { type: 'string', default: '2' },
    },
  });
  const concurrency = Number(values.concurrency);
  const seconds = Number(values.seconds);
  const rounds = Number(values.rounds);
  for (const [key, v] of Object.entries({ concurrency, seconds, rounds })) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`--${key} must be a positive integer`);
  }

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'surge-bench-exporter-'));
  const nginx = await startNginx();
  const children: ChildProcess[] = [];
  try {
    // LOG_LEVEL info: the exporter logs no line per request, only start-up and upstream changes.
    const exporter = await spawnWithPort(
      ['src/main.ts'],
      {
        HOST: '127.0.0.1',
        PORT: '0',
        LOG_LEVEL: 'info',
        NGINX_STATUS_URL: nginx.statusUrl,
        QUEUE_KIND: 'embedded',
        EMBEDDED_QUEUE_DIR: path.join(dir, 'queue'),
        QUEUE_NAME: 'bench',
      },
      path.join(repo, 'apps', 'exporter'),
    );
    children.push(exporter.child);
    // Warm the depth cache and capture the bytes the baseline will serve.
    const sampleBody = await metricsText(exporter.port);
    if (value(sampleBody.text, 'nginx_up') !== 1 || value(sampleBody.text, 'surge_queue_up{queue="bench"}') !== 1)
      throw new Error(`exporter not healthy before the bench:\n${sampleBody.text.slice(0, 2000)}`);
    const bodyFile = path.join(dir, 'metrics.txt');
    fs.writeFileSync(bodyFile, sampleBody.text);
    const baseline = await spawnWithPort([path.join(here, 'exporter-baseline-server.ts'), bodyFile, sampleBody.contentType], {}, repo);
    children.push(baseline.child);

    process.stdout.write(
      `exporter bench: ${concurrency} concurrent keep-alive scrapers, ${rounds} × ${seconds} s per side, /metrics body ${Buffer.byteLength(sampleBody.text)} B, ${os.cpus().length} CPUs (shared by load loop, exporter, nginx)\n`,
    );
    // A short warm-up of both (JIT, connection pools), not counted.
    await phase(baseline.port, concurrency, 1);
    await phase(exporter.port, concurrency, 1);

    const before = await metricsText(exporter.port);
    const base: PhaseResult[] = [];
    const ours: PhaseResult[] = [];
    for (let round = 0; round < rounds; round++) {
      base.push(await phase(baseline.port, concurrency, seconds));
      ours.push(await phase(exporter.port, concurrency, seconds));
    }
    const after = await metricsText(exporter.port);

    const b = summarize(base);
    const e = summarize(ours);
    const fmt = (n: number) => n.toFixed(n < 10 ? 2 : 0);
    const row = (name: string, s: ReturnType<typeof summarize>) =>
      `${name.padEnd(26)} ${fmt(s.rps).padStart(8)} req/s   p50 ${fmt(s.p50).padStart(6)} ms   p99 ${fmt(s.p99).padStart(6)} ms   errors ${s.errors}\n`;
    process.stdout.write(row('bare fastify, same bytes', b));
    process.stdout.write(row('exporter /metrics', e));
    process.stdout.write(`ratio exporter/baseline: ${(e.rps / b.rps).toFixed(2)}× (target ≥ 0.50×)\n`);
    const exporterSeconds = ours.reduce((n, r) => n + r.seconds, 0);
    // Each stub_status read is one nginx request; the held-open baseline adds none.
    const nginxReads = value(after.text, 'nginx_http_requests_total') - value(before.text, 'nginx_http_requests_total');
    const depthReads =
      value(after.text, 'surge_queue_depth_reads_total{queue="bench",outcome="ok"}') -
      value(before.text, 'surge_queue_depth_reads_total{queue="bench",outcome="ok"}');
    process.stdout.write(
      `during ${exporterSeconds.toFixed(1)} s of exporter load (${e.requests} scrapes): ${nginxReads} stub_status reads (${fmt(nginxReads / exporterSeconds)}/s, shared by concurrent scrapes), ${depthReads} broker depth reads (DEPTH_CACHE_MS 5000)\n`,
    );
  } finally {
    for (const child of children.reverse()) await stop(child);
    await nginx.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
