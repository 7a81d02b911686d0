/**
 * keda-local's own CPU while it supervises 50 worker processes (target: under 5% of one core).
 *
 * A copy of the local overlay's ScaledObject with `maxReplicaCount: 50` and one message per replica
 * drives worker-deployment to 50 pods on long work; once 50 run, keda-local's own user+system time
 * (from /proc, children excluded) is measured over a window, then the demo is interrupted (SIGINT,
 * which still writes its report).
 *
 *   npm run bench -- keda-local [--workers 50] [--window-seconds 20]
 *   node bench/src/keda-local.ts [--workers 50] [--window-seconds 20]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const CLOCK_TICKS = 100; // USER_HZ on Linux

function cpuSeconds(pid: number): number {
  // /proc/<pid>/stat: fields 14 and 15 (1-based) are utime and stime, after the parenthesised comm.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

function overlay(dir: string, workers: number): void {
  writeFileSync(path.join(dir, 'kustomization.yaml'), 'resources: [scaledobject.yaml]\n');
  writeFileSync(
    path.join(dir, 'scaledobject.yaml'),
    `apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: { name: worker-deployment }
spec:
  scaleTargetRef: { name: worker-deployment }
  pollingInterval: 2
  cooldownPeriod: 10
  maxReplicaCount: ${workers}
  advanced:
    horizontalPodAutoscalerConfig:
      behavior:
        scaleUp:
          policies: [{ type: Pods, value: ${workers}, periodSeconds: 5 }]
  triggers:
    - type: metrics-api
      metadata: { url: "http://127.0.0.1:9113/api/v1/queues/surge-work", valueLocation: total, targetValue: "1" }
`,
  );
}

export async function run(args: string[]): Promise<void> {
  const flag = (name: string, fallback: number) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? Number(args[i + 1]) : fallback;
  };
  const workers = flag('workers', 50);
  const windowSeconds = flag('window-seconds', 20);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'surge-bench-keda-local-'));
  overlay(dir, workers);
  const child = spawn(
    process.execPath,
    [
      path.join(ROOT, 'apps/keda-local/src/main.ts'),
      'demo',
      '--mode',
      'deployment',
      '--overlay',
      dir,
      '--count',
      String(workers * 200),
      '--work-ms',
      '2000',
      '--concurrency',
      '1',
      '--hpa-sync-seconds',
      '5',
      '--progress',
      'plain',
      '--progress-every-seconds',
      '1',
      '--out',
      path.join(dir, 'run'),
    ],
    {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', QUEUE_NAME: 'bench-keda-local' },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const pid = child.pid as number;
  let output = '';
  const full = new Promise<number>((resolve) => {
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes(`worker-deployment ${workers}/${workers}`)) resolve(Date.now());
    });
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const startedAt = Date.now();
  const reachedAt = await Promise.race([full, exited.then(() => undefined)]);
  if (reachedAt === undefined) throw new Error(`keda-local exited before ${workers} workers ran:\n${output}`);
  const cpu0 = cpuSeconds(pid);
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, windowSeconds * 1000));
  const cpu1 = cpuSeconds(pid);
  const t1 = Date.now();
  const stillFull = output.trim().split('\n').at(-1)?.includes(`worker-deployment ${workers}/${workers}`) ?? false;
  child.kill('SIGINT');
  await exited;
  rmSync(dir, { recursive: true, force: true });
  const percent = ((cpu1 - cpu0) / ((t1 - t0) / 1000)) * 100;
  process.stdout.write(
    `keda-local supervising ${workers} worker-deployment processes: ${percent.toFixed(2)}% of one core over ${((t1 - t0) / 1000).toFixed(1)} s ` +
      `(${(cpu1 - cpu0).toFixed(2)} CPU-s; ${workers} running after ${((reachedAt - startedAt) / 1000).toFixed(0)} s; still ${workers} at the end: ${stillFull}; load average ${os.loadavg()[0]!.toFixed(1)})\n` +
      `target: < 5% — ${percent < 5 ? 'met' : 'NOT met'}\n`,
  );
}

if (import.meta.main) await run(process.argv.slice(2));
