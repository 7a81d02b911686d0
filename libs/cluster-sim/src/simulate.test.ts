import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  applySets,
  parseProfile,
  readProfileFile,
  readWorkload,
  readWorkloads,
  renderOverlay,
  simulate,
  simulationReport,
  SimError,
  type Profile,
  type SimWorkload,
} from './index.ts';
import { ScalingEngine } from '@surge/supervisor';
import { EventQueue, VirtualClock } from './event-queue.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const profiles = path.join(root, 'libs/cluster-sim/profiles');
const overlay = (name: string) => path.join(root, 'deploy/kustomize/overlays', name);
const aksSpot = readWorkload(renderOverlay(overlay('aks-spot')), 'aks-spot');
const profile = (name: string, sets: string[] = []): Profile => applySets(readProfileFile(path.join(profiles, `${name}.yaml`)), sets);
const kedaAddon = readWorkloads(renderOverlay(overlay('aks-keda-addon')), 'aks-keda-addon');
const local = readWorkloads(renderOverlay(overlay('local')), 'local');
const withMax = (w: SimWorkload, max: number): SimWorkload => ({ ...w, spec: { ...w.spec, maxReplicaCount: max, maxParallelJobs: max } });

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] as number;
}

describe('event queue', () => {
  it('runs same-instant events in the order they were scheduled', async () => {
    const q = new EventQueue(0);
    const order: string[] = [];
    q.at(5, () => void order.push('b'));
    q.at(1, () => void order.push('a'));
    q.at(5, () => void order.push('c'));
    const cancel = q.at(3, () => void order.push('x'));
    cancel();
    await q.run(() => false, 100);
    expect(order).toEqual(['a', 'b', 'c']);
    expect(q.now()).toBe(5);
  });

  it("holds virtual time while the engine's tick is still running, so every tick sees its own instant", async () => {
    const q = new EventQueue(0);
    const clock = new VirtualClock(q);
    const seen: number[] = [];
    const controller = {
      workload: 'w',
      idle: false,
      status: () => ({ workload: 'w', desired: 0, running: 0, pending: 0, started: 0 }),
      // Awaits in between, as a trigger read does: time must not move on under it.
      async tick(now: number) {
        await Promise.resolve();
        await Promise.resolve();
        seen.push(now, clock.now());
      },
    };
    const engine = new ScalingEngine({
      clock,
      controllers: [controller],
      tickMs: 250,
      tasks: [{ name: 'end', everyMs: 1000, immediate: false, run: (_n, e) => e.stop('done') }],
    });
    let ended: Promise<string> | undefined;
    clock.start(() => {
      ended = engine.run().finally(() => clock.release());
    });
    q.at(600, () => void seen.push(-1));
    await q.run(() => false, 10_000);
    expect(await ended).toBe('done');
    expect(seen).toEqual([0, 0, 250, 250, 500, 500, -1, 750, 750, 1000, 1000]);
  });
});

describe('simulate ScaledObjects', () => {
  const addon = kedaAddon.deployments[0];
  it('reads the Deployment a queue ScaledObject scales, and only queue-scaled ones', () => {
    expect(kedaAddon.job).toBeUndefined();
    expect(kedaAddon.deployments.map((d) => d.spec.scaleTargetRef.name)).toEqual(['worker-deployment']);
    expect(addon?.concurrency).toBe(4);
    expect(addon?.pod.cpuMilli).toBeGreaterThan(0);
    const eks = readWorkloads(renderOverlay(overlay('eks')), 'eks');
    // The web tier scales on request rate, not on the queue: it is not simulated.
    expect(eks.deployments.map((d) => d.spec.name)).toEqual(['worker-deployment']);
  });

  it('drains the queue with Deployment pods and returns to minReplicaCount, within maxReplicaCount, losing nothing', async () => {
    if (addon === undefined) throw new Error('aks-keda-addon has no ScaledObject');
    for (const [seed, min] of [
      [1, 0],
      [2, 0],
      [3, 2],
      [4, 1],
    ] as const) {
      // The HPA's bounds come from the same two fields, as KEDA derives them.
      const spec = {
        ...addon.spec,
        minReplicaCount: min,
        maxReplicaCount: 12,
        hpa: { ...addon.spec.hpa, minReplicas: Math.max(1, min), maxReplicas: 12 },
      };
      const deployment = { ...addon, spec };
      const p = profile('aks-keda-addon', ['nodePool.evictionsPerNodeHour=2', 'broker.lockSeconds=5']);
      const r = await simulate({ deployments: [deployment], profile: p, count: 600, rate: 40, seed });
      expect(r.finished).toBe(true);
      expect(r.violations).toEqual([]);
      expect(r.results + r.deadLettered).toBe(600);
      expect(r.jobsCreated).toBe(0);
      expect(Math.max(...r.samples.map((s) => s.desired))).toBe(12);
      for (const s of r.samples) expect(s.desired).toBeLessThanOrEqual(12);
      const last = r.samples[r.samples.length - 1];
      expect(last?.running).toBe(min);
      expect(last?.desired).toBe(min);
      expect(last?.depth).toBe(0);
      expect(r.decisions.some((d) => d.kind === 'hpa-sync')).toBe(true);
    }
  });

  it('simulates the ScaledJob and the ScaledObject of one overlay together, on the same queue', async () => {
    expect(local.job).toBeDefined();
    expect(local.deployments).toHaveLength(1);
    const run = () =>
      simulate({ workload: local.job, deployments: local.deployments, profile: profile('local'), count: 1000, rate: 0, seed: 1 });
    const r = await run();
    expect(JSON.stringify(await run())).toBe(JSON.stringify(r));
    expect(r.finished).toBe(true);
    expect(r.violations).toEqual([]);
    expect(r.results).toBe(1000);
    expect(r.jobsCreated).toBeGreaterThan(0);
    const kinds = new Set(r.decisions.map((d) => d.kind));
    expect(kinds).toEqual(new Set(['scaledjob-poll', 'keda-poll', 'hpa-sync']));
    expect(Math.max(...r.samples.map((s) => s.desired))).toBeGreaterThan(local.job?.spec.maxReplicaCount ?? 0);
  });
});

describe('simulate', () => {
  it('gives the identical report for the same seed, and a different one for another seed', async () => {
    const run = async (seed: number) =>
      JSON.stringify(
        simulationReport({
          result: await simulate({ workload: aksSpot, profile: profile('aks-spot'), count: 2000, rate: 0, seed }),
          workload: 'worker-job',
          queue: 'q',
          profile: 'aks-spot',
          settings: {},
        }),
      );
    const a = await run(7);
    expect(await run(7)).toBe(a);
    expect(await run(8)).not.toBe(a);
  });

  it('keeps its invariants over many seeds: nothing lost, Jobs within max, nodes within the pool, no pod on a node that is not Ready', async () => {
    for (let seed = 1; seed <= 12; seed += 1) {
      const p = profile('aks-spot', ['nodePool.maxCount=40', 'nodePool.evictionsPerNodeHour=2', 'broker.lockSeconds=5']);
      const r = await simulate({ workload: withMax(aksSpot, 30), profile: p, count: 300, rate: 50, seed });
      expect(r.finished).toBe(true);
      expect(r.violations).toEqual([]);
      expect(r.results + r.deadLettered).toBe(r.sent);
      expect(r.sent).toBe(300);
      expect(r.peakNodes).toBeLessThanOrEqual(40);
      for (const s of r.samples) {
        expect(s.desired).toBeLessThanOrEqual(30);
        expect(s.nodesReady + s.nodesProvisioning).toBeLessThanOrEqual(40);
      }
    }
  });

  it('reproduces the AKS provisioning percentiles for 50 nodes within 10%', async () => {
    const latencies: number[] = [];
    for (let seed = 1; seed <= 10; seed += 1) {
      const r = await simulate({
        workload: withMax(aksSpot, 50),
        profile: profile('aks-spot', ['nodePool.maxCount=50', 'nodePool.evictionsPerNodeHour=0']),
        count: 50,
        rate: 0,
        seed,
      });
      for (const n of r.nodeLaunches) if (n.readyAt !== null) latencies.push((n.readyAt - n.requestedAt) / 1000);
    }
    expect(latencies.length).toBeGreaterThanOrEqual(400);
    expect(Math.abs(percentile(latencies, 0.5) - 76) / 76).toBeLessThan(0.1);
    expect(Math.abs(percentile(latencies, 0.9) - 91) / 91).toBeLessThan(0.1);
    expect(Math.abs(percentile(latencies, 0.99) - 250) / 250).toBeLessThan(0.1);
  });

  it('creates no more than 20 Jobs per second at KEDA QPS 20 (after the burst of 30)', async () => {
    const r = await simulate({ workload: withMax(aksSpot, 2000), profile: profile('aks-spot'), count: 3000, rate: 0, seed: 1 });
    const times = r.createTimes;
    expect(times.length).toBeGreaterThan(1000);
    // Any 10 s window holds at most 10 × 20 plus the burst.
    for (let i = 0, j = 0; i < times.length; i += 1) {
      while ((times[i] as number) - (times[j] as number) >= 10_000) j += 1;
      expect(i - j + 1).toBeLessThanOrEqual(200 + 30);
    }
    const span = ((times[times.length - 1] as number) - (times[0] as number)) / 1000;
    expect(Math.abs(times.length / span - 20) / 20).toBeLessThan(0.1);
  });

  it('starts no more than 100 ACI pods in any 5 minutes on a virtual node', async () => {
    const r = await simulate({ workload: withMax(aksSpot, 400), profile: profile('aks-virtual-node'), count: 400, rate: 0, seed: 1 });
    expect(r.finished).toBe(true);
    const times = r.quotaCreates;
    expect(times.length).toBeGreaterThanOrEqual(400);
    for (let i = 0, j = 0; i < times.length; i += 1) {
      while ((times[i] as number) - (times[j] as number) >= 300_000) j += 1;
      expect(i - j + 1).toBeLessThanOrEqual(100);
    }
  });

  it('over-creates Jobs under the accurate strategy while started pods have not yet locked their message, and not under default', async () => {
    const run = async (strategy: 'default' | 'accurate', processStartMs: number) => {
      const base = withMax(aksSpot, 100);
      const workload = { ...base, spec: { ...base.spec, scalingStrategy: { ...base.spec.scalingStrategy, strategy } } };
      return simulate({
        workload,
        profile: profile('aks-spot', ['nodePool.maxCount=100', `pod.processStartMs=${processStartMs}`]),
        count: 300,
        rate: 0,
        seed: 1,
      });
    };
    const slow = await run('accurate', 20_000);
    expect(slow.results).toBe(300);
    expect(slow.jobsCreated).toBeGreaterThan(300);
    expect((await run('accurate', 0)).jobsCreated).toBe(300);
    expect((await run('default', 20_000)).jobsCreated).toBe(300);
  });

  it('says which pod cannot be scheduled and by how much', async () => {
    const err = await simulate({
      workload: aksSpot,
      profile: profile('aks-spot', ['nodePool.vmSize=Standard_D2s_v3']),
      count: 1,
      rate: 0,
      seed: 1,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SimError);
    expect((err as Error).message).toMatch(/ScaledJob\/worker-job requests \d+m CPU, \d+m more than a Standard_D2s_v3 node's allocatable/);
  });

  it('rejects an unknown profile key by name', () => {
    expect(() => parseProfile('nodePool:\n  maxCuont: 3\n', 'p.yaml')).toThrow('p.yaml: unknown profile key nodePool.maxCuont');
    expect(() => applySets(profile('aks-spot'), ['broker.nope=1'])).toThrow(/unknown profile key broker.nope/);
  });
});
