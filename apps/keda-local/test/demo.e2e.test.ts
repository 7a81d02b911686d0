/**
 * End to end: `keda-local demo` as a process — producer, exporter and real worker processes, KEDA's
 * rules deciding — on the embedded queue and on RabbitMQ, in both modes, and with random SIGKILLs.
 * Each run is checked against the result store itself: every message has a result, replicas went
 * 0 → more than 1 → 0, and the report's figures agree with what is on disk. Timings are not asserted.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, it, type ExpectStatic } from 'vitest';
import { providedRabbitMq, type ProvidedRabbitMq } from '@surge/testing';
import type { ScaleReport } from '@surge/scale-report';

const appDir = path.resolve(import.meta.dirname, '..');
const root = mkdtempSync(path.join(os.tmpdir(), 'surge-keda-local-e2e-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let rabbit: ProvidedRabbitMq;
beforeAll(async () => {
  rabbit = await providedRabbitMq();
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  dir: string;
  report: ScaleReport;
}

/** Short work and a 3 s HPA sync keep a 2,000-message run well under a minute on a busy 2-core machine. */
async function demo(expect: ExpectStatic, name: string, flags: string[], env: Record<string, string> = {}): Promise<Run> {
  const dir = path.join(root, name);
  const child = spawn(
    process.execPath,
    [
      'src/main.ts',
      'demo',
      '--count',
      '2000',
      '--work-ms',
      '20',
      '--hpa-sync-seconds',
      '3',
      '--job-batch',
      '100',
      '--progress',
      'plain',
      '--out',
      dir,
      ...flags,
    ],
    {
      cwd: appDir,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        QUEUE_NAME: `e2e-${name}-${process.pid}`,
        EMBEDDED_QUEUE_LEASE_MS: '2000',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGINT'), 200_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(timer);
  if (code !== 0) console.error(`demo ${name} exited ${code}\n${stdout}\n${stderr}`);
  const reportFile = path.join(dir, 'report.json');
  expect(existsSync(reportFile), `${name}: report.json written`).toBe(true);
  return { code, stdout, stderr, dir, report: JSON.parse(readFileSync(reportFile, 'utf8')) as ScaleReport };
}

function rabbitEnv(): Record<string, string> {
  return {
    QUEUE_KIND: 'rabbitmq',
    RABBITMQ_URL: rabbit.url,
    ...(rabbit.managementUrl ? { RABBITMQ_MANAGEMENT_URL: rabbit.managementUrl } : {}),
  };
}

/** The checks every run must pass. */
function checkRun(expect: ExpectStatic, run: Run, workloads: string[]): void {
  expect(run.code).toBe(0);
  const { report, dir } = run;
  expect(report.workloads).toEqual(workloads);

  // Every result present, read from the store itself (one file per message).
  const loads = readdirSync(path.join(dir, 'results'));
  expect(loads).toHaveLength(1);
  const files = readdirSync(path.join(dir, 'results', loads[0] as string)).filter((f) => f.endsWith('.json'));
  expect(files).toHaveLength(2000);
  const seqs = new Set(
    files.map((f) => (JSON.parse(readFileSync(path.join(dir, 'results', loads[0] as string, f), 'utf8')) as { seq: number }).seq),
  );
  expect(seqs.size).toBe(2000);

  // Accounting consistent with the store.
  expect(report.accounting).toMatchObject({ sent: 2000, results: files.length, deadLettered: 0, lost: 0 });
  // Duplicates as the workers recorded them (one outcome line per delivery): no result was written twice,
  // every message has a recorded write, and the report counts exactly the writes that found a result stored.
  const outcomeLines = readdirSync(path.join(dir, 'outcomes'))
    .filter((f) => f.endsWith('.jsonl'))
    .flatMap((f) =>
      readFileSync(path.join(dir, 'outcomes', f), 'utf8')
        .split('\n')
        .filter((line) => line !== ''),
    )
    .map((line) => JSON.parse(line) as { messageId: string; write?: string });
  const writtenIds = outcomeLines.filter((o) => o.write === 'written').map((o) => o.messageId);
  expect(new Set(writtenIds).size).toBe(writtenIds.length);
  expect(new Set(outcomeLines.filter((o) => o.write !== undefined).map((o) => o.messageId)).size).toBe(2000);
  expect(report.accounting!.duplicates).toBe(outcomeLines.filter((o) => o.write === 'duplicate').length);
  expect(report.latency?.count).toBe(files.length);
  expect(report.latency!.p95Ms).toBeGreaterThanOrEqual(report.latency!.p50Ms);

  // Replicas 0 → more than 1 → 0, for each workload, in the timeline and in the figures.
  for (const workload of workloads) {
    const series = report.timeline.map((s) => s.replicas[workload] ?? 0);
    expect(series[0], `${workload} starts at 0`).toBe(0);
    const peakIndex = series.findIndex((v) => v > 1);
    expect(peakIndex, `${workload} went above 1`).toBeGreaterThan(0);
    expect(series.at(-1), `${workload} ends at 0`).toBe(0);
    expect(report.figures.peaks.find((p) => p.workload === workload)?.replicas).toBe(Math.max(...series));
  }
  expect(report.figures.timeToFirstWorkerSeconds).not.toBeNull();
  expect(report.figures.queueDrainedAtSeconds).not.toBeNull();
  expect(report.figures.backToZeroAtSeconds).not.toBeNull();
  expect(report.figures.backToZeroAtSeconds!).toBeGreaterThanOrEqual(report.figures.timeToFirstWorkerSeconds!);
  expect(report.timeline.at(-1)).toMatchObject({ depth: 0, results: 2000 });

  // The files: HTML self-contained, CSV one row per sample, decisions logged with their inputs.
  const html = readFileSync(path.join(dir, 'report.html'), 'utf8');
  expect(html).toContain('<svg');
  expect(html).not.toMatch(/<script|<link|https?:\/\//i);
  const csv = readFileSync(path.join(dir, 'timeline.csv'), 'utf8').trim().split('\n');
  expect(csv).toHaveLength(report.timeline.length + 1);
  expect(csv.at(-1)!.split(',').at(-1)).toBe('2000');
  const decisions = readFileSync(path.join(dir, 'decisions.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  // At least one decision per workload; how many polls a run spans depends on how fast this machine drains it
  // (an idle machine drains 2,000 messages in job mode within two 2 s polls).
  expect(decisions.length).toBeGreaterThanOrEqual(workloads.length);
  for (const d of decisions) expect(d).toHaveProperty('reason');
  expect(run.stdout).toContain(`report: ${path.join(dir, 'report.html')}`);
}

// Two runs at a time (vitest maxConcurrency 2): the machine is shared, and each run is mostly waiting
// on process start-up and polling intervals.
describe.concurrent('keda-local demo, embedded queue', () => {
  it('job mode: a ScaledJob drains 2,000 messages', async ({ expect }) => {
    const run = await demo(expect, 'embedded-job', ['--mode', 'job']);
    checkRun(expect, run, ['worker-job']);
    const polls = readFileSync(path.join(run.dir, 'decisions.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { kind: string; jobsToCreate: number });
    expect(polls.every((p) => p.kind === 'scaledjob-poll')).toBe(true);
    expect(polls.some((p) => p.jobsToCreate > 1)).toBe(true);
  });

  it('deployment mode: a ScaledObject goes 0 → N → 0 with KEDA and HPA decisions logged', async ({ expect }) => {
    const run = await demo(expect, 'embedded-deployment', ['--mode', 'deployment']);
    checkRun(expect, run, ['worker-deployment']);
    const decisions = readFileSync(path.join(run.dir, 'decisions.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { kind: string; action: string; toReplicas: number });
    expect(decisions.find((d) => d.kind === 'keda-poll' && d.action === 'scale-from-zero')).toBeDefined();
    expect(decisions.find((d) => d.kind === 'hpa-sync' && d.toReplicas > 1)).toBeDefined();
    expect(decisions.find((d) => d.kind === 'keda-poll' && d.action === 'scale-to-zero')).toBeDefined();
  });

  it('both modes with random SIGKILLs of workers: nothing is lost', async ({ expect }) => {
    const run = await demo(expect, 'embedded-chaos', ['--mode', 'both', '--chaos-kill-every-ms', '1500']);
    checkRun(expect, run, ['worker-job', 'worker-deployment']);
    expect(run.report.notes.some((n) => /chaos: \d+ workers SIGKILLed/.test(n))).toBe(true);
  });
});

describe.concurrent('keda-local demo, RabbitMQ', () => {
  it('job mode', async ({ expect }) => {
    checkRun(expect, await demo(expect, 'rabbit-job', ['--mode', 'job', '--backend', 'rabbitmq'], rabbitEnv()), ['worker-job']);
  });

  it('deployment mode', async ({ expect }) => {
    checkRun(expect, await demo(expect, 'rabbit-deployment', ['--mode', 'deployment', '--backend', 'rabbitmq'], rabbitEnv()), [
      'worker-deployment',
    ]);
  });

  it('both modes with random SIGKILLs of workers: nothing is lost', async ({ expect }) => {
    const run = await demo(
      expect,
      'rabbit-chaos',
      ['--mode', 'both', '--backend', 'rabbitmq', '--chaos-kill-every-ms', '1500'],
      rabbitEnv(),
    );
    checkRun(expect, run, ['worker-job', 'worker-deployment']);
  });
});
