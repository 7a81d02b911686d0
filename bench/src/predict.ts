/**
 * Prediction vs reality on this machine: keda-local for real (the local overlay, real worker
 * processes) beside the simulator with the `local` profile on the same settings, per mode (job:
 * the ScaledJob; deployment: the ScaledObject). Prints, per figure, measured, predicted and the
 * error (target: within 15% or 3 s; peak replicas within 15%), and the measured start and work
 * times the `local` profile is calibrated from.
 *
 *   npm run bench -- predict [--count 2000] [--modes job,deployment] [--work-ms 100] [--out DIR]
 *   PREDICT_COUNT=400 npm run bench -- predict
 *
 * keda-local runs with one message per Job (`--job-batch 1`), as a cluster's Job does and as the
 * simulator models a Job pod; its default of 50 would make the two different systems.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const LOCAL_OVERLAY = path.join(ROOT, 'deploy/kustomize/overlays/local');

type Mode = 'job' | 'deployment';

interface Figures {
  readonly timeToFirstResultSeconds: number | null;
  readonly peak: { readonly replicas: number };
  readonly queueDrainedAtSeconds: number | null;
  readonly backToZeroAtSeconds: number | null;
}

interface Report {
  readonly workloadKinds?: Record<string, string>;
  readonly figures: Figures;
  readonly accounting?: { readonly sent: number; readonly results: number; readonly lost: number };
}

function exec(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** An overlay over the local one with only this mode's KEDA object, so the simulator reads that one. */
function modeOverlay(dir: string, mode: Mode): string {
  const out = path.join(dir, `overlay-${mode}`);
  mkdirSync(out, { recursive: true });
  const drop = mode === 'job' ? { kind: 'ScaledObject', name: 'worker-deployment' } : { kind: 'ScaledJob', name: 'worker-job' };
  writeFileSync(
    path.join(out, 'kustomization.yaml'),
    `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ${path.relative(out, LOCAL_OVERLAY)}
patches:
  - patch: |-
      $patch: delete
      apiVersion: keda.sh/v1alpha1
      kind: ${drop.kind}
      metadata:
        name: ${drop.name}
`,
  );
  return out;
}

function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

interface Calibration {
  readonly pods: number;
  /** Pod created (the ScaledJob poll that created it) → its message's processing start. */
  readonly startMs: { p50: number | null; p90: number | null };
  /** A message's processing start → its result stored. */
  readonly workMs: { p50: number | null; p90: number | null };
  /** Result stored → the process's last log line (it exits). */
  readonly exitMs: { p50: number | null; p90: number | null };
}

/**
 * Reads a keda-local run folder: Job pods are named in creation order (base-36 sequence), and the
 * polls in decisions.jsonl say how many were created when, so each pod's creation time is its poll's.
 */
export function calibrate(run: string): Calibration {
  const created: number[] = [];
  for (const line of readFileSync(path.join(run, 'decisions.jsonl'), 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    const d = JSON.parse(line) as { kind?: string; at?: number; jobsToCreate?: number };
    if (d.kind === 'scaledjob-poll' && d.at !== undefined) for (let i = 0; i < (d.jobsToCreate ?? 0); i += 1) created.push(d.at);
  }
  const byInstance = new Map<string, { startedAt: number; finishedAt: number }>();
  const work: number[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else {
        const r = JSON.parse(readFileSync(file, 'utf8')) as { worker?: { instance?: string }; startedAt?: string; finishedAt?: string };
        if (r.startedAt === undefined || r.finishedAt === undefined) continue;
        const startedAt = Date.parse(r.startedAt);
        const finishedAt = Date.parse(r.finishedAt);
        work.push(finishedAt - startedAt);
        const instance = r.worker?.instance;
        const seen = instance === undefined ? undefined : byInstance.get(instance);
        if (instance !== undefined && (seen === undefined || startedAt < seen.startedAt))
          byInstance.set(instance, { startedAt, finishedAt });
      }
    }
  };
  walk(path.join(run, 'results'));
  const start: number[] = [];
  const exit: number[] = [];
  for (const [instance, r] of byInstance) {
    const match = /^worker-job-([0-9a-z]+)$/.exec(instance);
    if (match === null) continue;
    const createdAt = created[parseInt(match[1] as string, 36) - 1];
    if (createdAt !== undefined) start.push(r.startedAt - createdAt);
    const log = path.join(run, 'pods', `${instance}.log`);
    if (existsSync(log)) {
      const last = readFileSync(log, 'utf8').trim().split('\n').at(-1);
      const time = last === undefined ? undefined : (JSON.parse(last) as { time?: string }).time;
      if (time !== undefined) exit.push(Date.parse(time) - r.finishedAt);
    }
  }
  const pct = (v: number[]) => ({ p50: percentile(v, 50), p90: percentile(v, 90) });
  return { pods: start.length, startMs: pct(start), workMs: pct(work), exitMs: pct(exit) };
}

function row(name: string, measured: number | null, predicted: number | null, seconds: boolean): string {
  const fmt = (v: number | null) => (v === null ? '—' : seconds ? `${v.toFixed(1)} s` : String(v));
  if (measured === null || predicted === null)
    return `  ${name.padEnd(20)} measured ${fmt(measured).padStart(8)}  predicted ${fmt(predicted).padStart(8)}  error —`;
  const abs = predicted - measured;
  const rel = measured === 0 ? (abs === 0 ? 0 : Infinity) : abs / measured;
  const within = Math.abs(rel) <= 0.15 || (seconds && Math.abs(abs) <= 3);
  return (
    `  ${name.padEnd(20)} measured ${fmt(measured).padStart(8)}  predicted ${fmt(predicted).padStart(8)}  ` +
    `error ${abs >= 0 ? '+' : ''}${seconds ? `${abs.toFixed(1)} s` : abs} (${Number.isFinite(rel) ? `${rel >= 0 ? '+' : ''}${(rel * 100).toFixed(0)}%` : '∞'})  ` +
    `${within ? 'within' : 'NOT within'} 15%${seconds ? ' or 3 s' : ''}`
  );
}

export async function run(args: string[]): Promise<void> {
  const flag = (name: string, fallback: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 && args[i + 1] !== undefined ? (args[i + 1] as string) : fallback;
  };
  const countText = flag('count', process.env['PREDICT_COUNT'] ?? '2000');
  const workText = flag('work-ms', '100');
  const count = Number(countText);
  const workMs = Number(workText);
  const modes = flag('modes', 'job,deployment').split(',') as Mode[];
  for (const [name, value, ok] of [
    ['--count', countText, countText.trim() !== '' && Number.isInteger(count) && count >= 1],
    ['--work-ms', workText, workText.trim() !== '' && Number.isInteger(workMs) && workMs >= 0],
    ['--modes', modes.join(','), modes.every((m) => m === 'job' || m === 'deployment')],
  ] as const) {
    if (!ok) {
      process.stderr.write(
        `configuration error: ${name} must be ${name === '--modes' ? 'job, deployment or job,deployment' : name === '--count' ? 'an integer >= 1' : 'an integer >= 0'}, got ${JSON.stringify(value)}\n`,
      );
      process.exitCode = 2;
      return;
    }
  }
  const out = path.resolve(flag('out', mkdtempSync(path.join(os.tmpdir(), 'surge-bench-predict-'))));
  mkdirSync(out, { recursive: true });
  process.stdout.write(
    `prediction vs reality: ${count} messages, work ${workMs} ms, local overlay, profile local, runs in ${out} (load average ${os.loadavg()[0]!.toFixed(1)})\n`,
  );
  for (const mode of modes) {
    const realDir = path.join(out, `real-${mode}`);
    const real = await exec(
      [
        path.join(ROOT, 'apps/keda-local/src/main.ts'),
        'demo',
        '--mode',
        mode,
        '--count',
        String(count),
        '--work-ms',
        String(workMs),
        '--job-batch',
        '1',
        '--progress',
        'off',
        '--out',
        realDir,
      ],
      { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', QUEUE_NAME: `bench-predict-${mode}` },
    );
    if (real.code !== 0 || !existsSync(path.join(realDir, 'report.json'))) {
      process.stdout.write(`${mode}: keda-local failed (exit ${real.code}): ${real.stderr.trim().split('\n').at(-1) ?? ''}\n`);
      continue;
    }
    const measured = JSON.parse(readFileSync(path.join(realDir, 'report.json'), 'utf8')) as Report;
    const simDir = path.join(out, `sim-${mode}`);
    const sim = await exec(
      [
        path.join(ROOT, 'apps/simulator/src/main.ts'),
        '--overlay',
        modeOverlay(out, mode),
        '--profile',
        'local',
        '--count',
        String(count),
        '--work-ms',
        String(workMs),
        '--out',
        simDir,
      ],
      { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '' },
    );
    const kind = mode === 'job' ? 'ScaledJob' : 'ScaledObject';
    const predicted =
      sim.code === 0 && existsSync(path.join(simDir, 'report.json'))
        ? (JSON.parse(readFileSync(path.join(simDir, 'report.json'), 'utf8')) as Report)
        : undefined;
    const m = measured.figures;
    process.stdout.write(
      `${mode} (${kind}): measured ${measured.accounting?.results ?? '?'}/${measured.accounting?.sent ?? '?'} results, lost ${measured.accounting?.lost ?? '?'}\n`,
    );
    if (predicted === undefined || !Object.values(predicted.workloadKinds ?? {}).includes(kind)) {
      const why =
        predicted === undefined
          ? `the simulator said: ${sim.stderr.trim().split('\n').at(-1) ?? `exit ${sim.code}`}`
          : `the simulator read ${Object.values(predicted.workloadKinds ?? {}).join(', ')}, not a ${kind}`;
      process.stdout.write(`  not predicted: ${why}\n`);
    } else {
      const p = predicted.figures;
      process.stdout.write(
        [
          row('time to first result', m.timeToFirstResultSeconds, p.timeToFirstResultSeconds, true),
          row('peak replicas', m.peak.replicas, p.peak.replicas, false),
          row('queue drained', m.queueDrainedAtSeconds, p.queueDrainedAtSeconds, true),
          row('back to zero', m.backToZeroAtSeconds, p.backToZeroAtSeconds, true),
        ].join('\n') + '\n',
      );
    }
    if (mode === 'job') {
      const c = calibrate(realDir);
      const f = (v: { p50: number | null; p90: number | null }) => `p50 ${v.p50 ?? '—'} ms, p90 ${v.p90 ?? '—'} ms`;
      process.stdout.write(
        `  measured per Job pod (${c.pods} pods): created → work starts ${f(c.startMs)}; work ${f(c.workMs)}; result → exit ${f(c.exitMs)}\n`,
      );
    }
  }
}
