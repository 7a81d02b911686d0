/**
 * The scaling engine on a fake clock: time only moves when the test advances it, so every tick, poll
 * and task run lands at an exact virtual instant and no real timer is involved.
 */
import { describe, expect, it } from 'vitest';
import { parseScaledJob, parseScaledObject } from '@surge/scaling';
import {
  ScaledJobController,
  ScaledObjectController,
  ScalingEngine,
  type Clock,
  type Decision,
  type PodCounts,
  type PodInfo,
  type PodRuntime,
  type ScalingController,
} from '../src/index.ts';

/** A discrete-event clock: timers fire in time order (then in scheduling order) as `advance` moves time. */
class FakeClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: { at: number; seq: number; callback: () => void }[] = [];
  constructor(start: number) {
    this.#now = start;
  }
  now(): number {
    return this.#now;
  }
  after(ms: number, callback: () => void): () => void {
    const timer = { at: this.#now + Math.max(0, ms), seq: (this.#seq += 1), callback };
    this.#timers.push(timer);
    return () => {
      this.#timers = this.#timers.filter((t) => t !== timer);
    };
  }
  get pending(): number {
    return this.#timers.length;
  }
  /** Moves time to `now + ms`, firing every timer due on the way and letting the awaits they release run. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    for (;;) {
      await flush();
      this.#timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.#timers[0];
      if (next === undefined || next.at > target) break;
      this.#timers.shift();
      this.#now = next.at;
      next.callback();
    }
    this.#now = target;
    await flush();
  }
}

async function flush(): Promise<void> {
  for (let i = 0; i < 50; i += 1) await Promise.resolve();
}

/** Pods that run the moment they are created and end when deleted: only the controllers' arithmetic shows. */
class InstantPods implements PodRuntime<null> {
  readonly #pods = new Map<string, { info: PodInfo; done: boolean }>();
  #n = 0;
  readonly clock: Clock;
  constructor(clock: Clock) {
    this.clock = clock;
  }
  create(workload: string): PodInfo {
    const name = `${workload}-${(this.#n += 1)}`;
    const at = this.clock.now();
    const info: PodInfo = {
      name,
      workload,
      phase: 'Running',
      terminating: false,
      createdAt: at,
      startedAt: at,
      finishedAt: undefined,
      exitCode: undefined,
      signal: undefined,
      pid: undefined,
      node: undefined,
      logFile: undefined,
      ending: undefined,
    };
    this.#pods.set(name, { info, done: false });
    return info;
  }
  active(workload?: string): PodInfo[] {
    return [...this.#pods.values()].filter((p) => !p.done && (workload === undefined || p.info.workload === workload)).map((p) => p.info);
  }
  counts(workload: string): PodCounts {
    const running = this.active(workload).length;
    return { pending: 0, running, terminating: 0, unfinished: running };
  }
  get(name: string): PodInfo | undefined {
    return this.#pods.get(name)?.info;
  }
  /** Ends a pod as if its process exited with `code`. */
  finish(name: string, code: number): void {
    const pod = this.#pods.get(name);
    if (!pod) return;
    pod.done = true;
    pod.info = { ...pod.info, phase: code === 0 ? 'Succeeded' : 'Failed', exitCode: code, finishedAt: this.clock.now(), ending: 'exited' };
  }
  async delete(name: string): Promise<PodInfo> {
    const pod = this.#pods.get(name)!;
    pod.done = true;
    pod.info = { ...pod.info, phase: 'Succeeded', terminating: true, finishedAt: this.clock.now(), ending: 'deleted' };
    return pod.info;
  }
}

const T0 = 1_700_000_000_000;
const trigger = { type: 'metrics-api', metadata: { url: 'http://127.0.0.1:1/api/v1/queues/q', valueLocation: 'total', targetValue: '4' } };

function recordingController(workload: string, clock: Clock, ticks: number[]): ScalingController {
  return {
    workload,
    tick: async (now) => {
      ticks.push(now - T0);
      expect(now).toBe(clock.now());
    },
    status: () => ({ workload, desired: 0, running: 0, pending: 0, started: 0 }),
    idle: true,
  };
}

describe('ScalingEngine', () => {
  it('ticks every tickMs of virtual time and runs each task on the first tick of its period', async () => {
    const clock = new FakeClock(T0);
    const ticks: number[] = [];
    const samples: number[] = [];
    const chaos: number[] = [];
    const engine = new ScalingEngine({
      clock,
      tickMs: 250,
      controllers: [recordingController('a', clock, ticks)],
      tasks: [
        { name: 'sample', everyMs: 1000, run: (now) => void samples.push(now - T0) },
        { name: 'chaos', everyMs: 600, immediate: false, run: (now) => void chaos.push(now - T0) },
      ],
    });
    const done = engine.run();
    await clock.advance(2000);
    engine.stop('enough');
    expect(await done).toBe('enough');
    expect(ticks).toEqual([0, 250, 500, 750, 1000, 1250, 1500, 1750, 2000]);
    expect(samples).toEqual([0, 1000, 2000]);
    expect(chaos).toEqual([750, 1500]);
    // The pending sleep was cancelled through the clock: nothing is left scheduled.
    expect(clock.pending).toBe(0);
    expect(engine.status()).toMatchObject({ running: false, stopReason: 'enough', ticks: 9, idle: true });
  });

  it('a task can end the run; the tick in progress finishes, the later tasks of that tick do not run', async () => {
    const clock = new FakeClock(T0);
    const after: number[] = [];
    const engine = new ScalingEngine({
      clock,
      controllers: [],
      tasks: [
        { name: 'end', everyMs: 250, run: (now, e) => (now - T0 >= 500 ? e.stop(`ended at ${now - T0}`) : undefined) },
        { name: 'later', everyMs: 250, run: (now) => void after.push(now - T0) },
      ],
    });
    const done = engine.run();
    await clock.advance(10_000);
    expect(await done).toBe('ended at 500');
    expect(after).toEqual([0, 250]);
    expect(clock.now() - T0).toBe(10_000);
  });

  it('a failing controller or task is reported and the loop goes on', async () => {
    const clock = new FakeClock(T0);
    const errors: string[] = [];
    let ticks = 0;
    const engine = new ScalingEngine({
      clock,
      controllers: [
        {
          workload: 'broken',
          tick: async () => Promise.reject(new Error('read failed')),
          status: () => ({ workload: 'broken', desired: 0, running: 0, pending: 0, started: 0 }),
          idle: true,
        },
      ],
      tasks: [
        {
          name: 'count',
          everyMs: 250,
          run: (_now, e) => {
            ticks += 1;
            if (ticks === 3) e.stop('three');
            throw new Error('task failed');
          },
        },
      ],
      onError: (error, source) => errors.push(`${source}: ${(error as Error).message}`),
    });
    const done = engine.run();
    await clock.advance(1000);
    expect(await done).toBe('three');
    expect(errors).toEqual([
      'broken: read failed',
      'count: task failed',
      'broken: read failed',
      'count: task failed',
      'broken: read failed',
      'count: task failed',
    ]);
  });

  it('an aborted signal ends the run as interrupted without waiting for the next tick', async () => {
    const clock = new FakeClock(T0);
    const abort = new AbortController();
    const engine = new ScalingEngine({ clock, controllers: [], tickMs: 60_000 });
    const done = engine.run(abort.signal);
    await clock.advance(1);
    abort.abort();
    expect(await done).toBe('interrupted');
    expect(engine.status().ticks).toBe(1);
    expect(clock.pending).toBe(0);
    // Already aborted: no tick at all.
    expect(await engine.run(abort.signal)).toBe('interrupted');
    expect(engine.status().ticks).toBe(1);
  });

  it('rejects a tick period that is not a positive number', () => {
    expect(() => new ScalingEngine({ clock: new FakeClock(T0), controllers: [], tickMs: 0 })).toThrow(/tickMs: expected a positive number/);
  });

  it('drives a ScaledObject 0 → N → 0 on virtual time: KEDA polls every pollingInterval, the HPA every sync period', async () => {
    const clock = new FakeClock(T0);
    const pods = new InstantPods(clock);
    const so = parseScaledObject({
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'ScaledObject',
      metadata: { name: 'worker' },
      spec: { scaleTargetRef: { name: 'worker' }, pollingInterval: 2, cooldownPeriod: 10, maxReplicaCount: 8, triggers: [trigger] },
    }).spec;
    let depth = 32;
    const decisions: Decision[] = [];
    const controller = new ScaledObjectController({
      workload: 'worker',
      spec: so,
      now: T0,
      hpa: { syncPeriodSeconds: 15 },
      supervisor: pods,
      podSpec: () => null,
      readTriggers: async () => [{ value: depth }],
      log: (d) => decisions.push(d),
    });
    const engine = new ScalingEngine({
      clock,
      controllers: [controller],
      tasks: [{ name: 'end', everyMs: 1000, immediate: false, run: (_now, e) => (e.idle ? e.stop('back to zero') : undefined) }],
    });
    const done = engine.run();
    await clock.advance(30_000);
    expect(controller.status()).toMatchObject({ desired: 8, running: 8 });
    depth = 0;
    await clock.advance(120_000);
    expect(await done).toBe('back to zero');

    const at = (kind: Decision['kind']) => decisions.filter((d) => d.kind === kind).map((d) => d.at - T0);
    // Every 2 s from the start, never between: the controller's own due rule decides, the engine only ticks.
    const polls = at('keda-poll');
    expect(polls.slice(0, 4)).toEqual([0, 2000, 4000, 6000]);
    expect(polls.every((t) => t % 2000 === 0)).toBe(true);
    const syncs = at('hpa-sync');
    expect(syncs.slice(0, 3)).toEqual([0, 15_000, 30_000]);
    expect(decisions.find((d) => d.kind === 'keda-poll' && d.action === 'scale-to-zero')).toBeDefined();
    expect(pods.active('worker')).toHaveLength(0);
    expect(engine.workloads()).toEqual([{ workload: 'worker', desired: 0, running: 0, pending: 0, started: controller.status().started }]);
  });

  it('drives a ScaledJob: one poll per pollingInterval creates Jobs, finished pods end them, then it is idle', async () => {
    const clock = new FakeClock(T0);
    const pods = new InstantPods(clock);
    const sj = parseScaledJob({
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'ScaledJob',
      metadata: { name: 'job' },
      spec: {
        jobTargetRef: { template: { spec: { containers: [{ name: 'w', image: 'w' }] } } },
        pollingInterval: 5,
        maxReplicaCount: 10,
        triggers: [{ ...trigger, metadata: { ...trigger.metadata, targetValue: '1' } }],
      },
    }).spec;
    let depth = 3;
    const decisions: Decision[] = [];
    const controller = new ScaledJobController({
      workload: 'job',
      spec: sj,
      backoffLimit: 1,
      supervisor: pods,
      podSpec: () => null,
      readTriggers: async () => [{ value: depth }],
      log: (d) => decisions.push(d),
    });
    const engine = new ScalingEngine({ clock, controllers: [controller] });
    const done = engine.run();
    await clock.advance(1000);
    expect(pods.active('job')).toHaveLength(3);
    depth = 0;
    for (const pod of pods.active('job')) pods.finish(pod.name, 0);
    await clock.advance(9000);
    expect(decisions.map((d) => d.at - T0)).toEqual([0, 5000, 10_000]);
    expect(engine.idle).toBe(true);
    expect(controller.jobCounts()).toMatchObject({ created: 3, succeeded: 3, unfinished: 0 });
    engine.stop('done');
    expect(await done).toBe('done');
  });
});
