/**
 * The simulator's own speed: 100,000 messages through a ScaledJob of max 4,000 on a 1,000-node Spot
 * pool (targets: under 10 s wall, under 300 MB peak RSS), then 1,000,000 messages (under 60 s). Each
 * size runs in its own process so peak RSS is that size's alone.
 *
 *   npm run bench -- simulate [--sizes 100000,1000000] [--seed 1]
 *
 * Prediction vs reality (keda-local for real beside the `local` profile) is `npm run bench -- predict`.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { readProfileFile, readWorkload, renderOverlay, simulate } from '@surge/cluster-sim';

const ROOT = path.resolve(import.meta.dirname, '..', '..');

async function one(count: number, seed: number): Promise<void> {
  const parsed = readWorkload(renderOverlay(path.join(ROOT, 'deploy/kustomize/overlays/aks-spot')), 'aks-spot');
  const workload = { ...parsed, spec: { ...parsed.spec, maxReplicaCount: 4000, maxParallelJobs: 4000 } };
  const profile = readProfileFile(path.join(ROOT, 'libs/cluster-sim/profiles/aks-spot.yaml'));
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  const result = await simulate({ workload, profile, count, rate: 0, seed });
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpu0);
  process.stdout.write(
    `${JSON.stringify({ count, wallMs, cpuMs: (cpu.user + cpu.system) / 1000, events: result.events, eventsPerSecond: result.events / (wallMs / 1000), peakRssMiB: process.resourceUsage().maxRSS / 1024, virtualSeconds: (result.endedAt - result.startedAt) / 1000, results: result.results, peakNodes: result.peakNodes, finished: result.finished })}\n`,
  );
}

export async function run(args: string[]): Promise<void> {
  const flag = (name: string, fallback: string) => {
    const i = args.indexOf(name);
    return i >= 0 && args[i + 1] !== undefined ? (args[i + 1] as string) : fallback;
  };
  const seed = Number(flag('--seed', '1'));
  if (args.includes('--one')) return one(Number(flag('--one', '100000')), seed);
  const targets: Record<number, { wallMs: number; rssMiB: number }> = {
    100000: { wallMs: 10_000, rssMiB: 300 },
    1000000: { wallMs: 60_000, rssMiB: Infinity },
  };
  for (const count of flag('--sizes', '100000,1000000').split(',').map(Number)) {
    const out = execFileSync(
      process.execPath,
      [path.join(import.meta.dirname, 'main.ts'), 'simulate', '--one', String(count), '--seed', String(seed)],
      { encoding: 'utf8', maxBuffer: 1 << 20 },
    );
    const r = JSON.parse(out.trim().split('\n').pop() as string) as {
      wallMs: number;
      cpuMs: number;
      events: number;
      eventsPerSecond: number;
      peakRssMiB: number;
      virtualSeconds: number;
      results: number;
      finished: boolean;
    };
    const target = targets[count];
    process.stdout.write(
      `simulate ${count} messages (ScaledJob max 4000, 1000-node Spot pool): wall ${(r.wallMs / 1000).toFixed(2)} s (cpu ${(r.cpuMs / 1000).toFixed(2)} s)${target ? ` target < ${target.wallMs / 1000} s` : ''}, ${r.events} events (${Math.round(r.eventsPerSecond)}/s), peak RSS ${r.peakRssMiB.toFixed(0)} MiB${target && Number.isFinite(target.rssMiB) ? ` target < ${target.rssMiB}` : ''}, ${r.virtualSeconds.toFixed(0)} s simulated, ${r.results} results, finished ${r.finished}\n`,
    );
  }
}
