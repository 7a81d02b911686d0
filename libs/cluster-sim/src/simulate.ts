/**
 * One simulated run: a producer sends messages to the modelled broker, KEDA's ScaledJob controller
 * (the same `ScaledJobController` and `@surge/scaling` rules keda-local runs) polls the broker's depth
 * and creates Jobs, and the modelled cluster carries each pod through the KEDA client's rate limit,
 * the scheduler, a node (waiting for the autoscaler when none has room), the image pull, container
 * and process start, one message of work, and Succeeded. Everything runs on the event queue's
 * virtual clock; randomness comes only from the seeded PRNG, so a seed fixes the output.
 */
import {
  ScaledJobController,
  ScaledObjectController,
  ScalingEngine,
  type ScalingController,
  DEFAULT_TICK_MS,
  type Decision,
  type EngineTask,
  type PodCounts,
  type PodInfo,
  type PodRuntime,
} from '@surge/supervisor';
import type { TriggerReading, TriggerSpec } from '@surge/scaling';
import { EventQueue, VirtualClock } from './event-queue.ts';
import { Prng, samplePercentiles, type PercentileDistribution } from './prng.ts';
import type { Profile } from './profile.ts';
import type { SimDeployment, SimPodTemplate, SimWorkload } from './manifests.ts';
import { SimError } from './errors.ts';
import { VM_SIZES, type VmSize } from './vm-sizes.ts';

export interface SimulationInput {
  /** The overlay's ScaledJob, if it has one. */
  readonly workload?: SimWorkload | undefined;
  /** Its ScaledObjects with their Deployments; simulated beside the ScaledJob, on the same queue. */
  readonly deployments?: readonly SimDeployment[];
  readonly profile: Profile;
  readonly count: number;
  /** Messages per second the producer sends; 0: all at once. */
  readonly rate: number;
  readonly seed: number;
  /** Virtual start time (epoch ms); fixed so output does not depend on the wall clock. */
  readonly startAt?: number;
  /** Give up after this much virtual time (default 48 h). */
  readonly limitMs?: number;
  readonly onProgress?: (done: number, total: number) => void;
}

/** What a pod was waiting for, the bottleneck categories of the report. */
export type WaitReason = 'rate-limit' | 'node' | 'quota' | 'image' | 'start' | 'broker';
export const WAIT_REASONS: readonly WaitReason[] = ['rate-limit', 'node', 'quota', 'image', 'start', 'broker'];

export interface ClusterSample {
  readonly at: number;
  readonly depth: number;
  readonly ready: number;
  readonly inFlight: number;
  readonly deadLettered: number;
  readonly results: number;
  readonly running: number;
  readonly desired: number;
  readonly nodesReady: number;
  readonly nodesProvisioning: number;
  readonly nodesEvicted: number;
  readonly pendingPods: number;
  readonly waiting: Readonly<Record<WaitReason, number>>;
}

export interface SimulationResult {
  readonly startedAt: number;
  readonly endedAt: number;
  readonly finished: boolean;
  readonly sent: number;
  readonly results: number;
  readonly deadLettered: number;
  readonly duplicates: number;
  readonly jobsCreated: number;
  readonly jobsFailed: number;
  readonly podsCreated: number;
  readonly podsEvicted: number;
  readonly peakNodes: number;
  readonly nodeHours: number;
  readonly events: number;
  readonly samples: readonly ClusterSample[];
  readonly decisions: readonly Decision[];
  /** Jobs created (API calls that succeeded) per virtual second: the rate-limit check. */
  readonly createTimes: readonly number[];
  /** Virtual-node container-group creates (ms from start), for the quota check. */
  readonly quotaCreates: readonly number[];
  /** Per node: requested and Ready times (ms from start), for the provisioning check. */
  readonly nodeLaunches: readonly { readonly requestedAt: number; readonly readyAt: number | null }[];
  /** Invariant breaches found while running (must be empty). */
  readonly violations: readonly string[];
}

type SimPhase = 'api' | 'queued' | 'pulling' | 'starting' | 'receiving' | 'working' | 'done';

/** What the controllers see of a pod (`PodInfo`, mutable here), plus the model's own state. */
interface SimPod extends Mutable<PodInfo> {
  sim: SimPhase;
  wait: WaitReason | undefined;
  nodeRef: SimNode | undefined;
  /** Messages locked by this pod (a Job pod: at most one; a Deployment pod: up to its concurrency). */
  held: SimMessage[] | undefined;
  timer: (() => void) | undefined;
  tpl: SimPodTemplate;
  kind: 'job' | 'deployment';
  concurrency: number;
  /** Deployment pods: consumer slots receiving or working (the others wait for a message). */
  busy: number;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

interface SimNode {
  readonly name: string;
  readonly requestedAt: number;
  readyAt: number | null;
  state: 'provisioning' | 'ready' | 'gone';
  freeCpu: number;
  freeMemory: number;
  pods: number;
  imageCached: boolean;
  pullFreeAt: number;
  emptySince: number;
}

interface SimMessage {
  readonly id: number;
  deliveries: number;
  done: boolean;
}

/** GCRA token bucket in virtual time: `take(now)` is when the next call may run. */
class RateLimiter {
  #tat = 0;
  readonly #interval: number;
  readonly #tolerance: number;

  constructor(qps: number, burst: number) {
    this.#interval = qps > 0 ? 1000 / qps : 0;
    this.#tolerance = Math.max(0, burst - 1) * this.#interval;
  }

  take(now: number, cost = 1): number {
    const at = Math.max(now, this.#tat - this.#tolerance);
    this.#tat = Math.max(this.#tat, now) + this.#interval * cost;
    return at;
  }
}

export async function simulate(input: SimulationInput): Promise<SimulationResult> {
  const { workload, profile } = input;
  const deployments = input.deployments ?? [];
  if (workload === undefined && deployments.length === 0)
    throw new SimError('OVERLAY_INVALID', 'nothing to simulate: no ScaledJob and no ScaledObject');
  const templates = [
    ...(workload === undefined ? [] : [{ object: `ScaledJob/${workload.spec.name}`, pod: workload.pod }]),
    ...deployments.map((d) => ({ object: `ScaledObject/${d.spec.name}`, pod: d.pod })),
  ];
  const startAt = input.startAt ?? Date.UTC(2026, 0, 1);
  const q = new EventQueue(startAt);
  const rng = new Prng(input.seed);
  const vm: VmSize | undefined = VM_SIZES[profile.nodePool.vmSize];
  if (vm === undefined)
    throw new SimError(
      'PROFILE_INVALID',
      `nodePool.vmSize ${profile.nodePool.vmSize} is not in the VM size table (${Object.keys(VM_SIZES).join(', ')})`,
    );
  const virtual = profile.autoscaler.kind === 'virtual-node';
  const nodeCpu = vm.allocatableCpuMilli - profile.nodePool.daemonsetCpuMilli;
  const nodeMemory = vm.allocatableMemoryMiB - profile.nodePool.daemonsetMemoryMiB;
  for (const { object, pod } of virtual ? [] : templates) {
    const overCpu = pod.cpuMilli - nodeCpu;
    const overMemory = pod.memoryMiB - nodeMemory;
    if (overCpu > 0)
      throw new SimError(
        'UNSCHEDULABLE',
        `pod of ${object} requests ${pod.cpuMilli}m CPU, ${overCpu}m more than a ${vm.name} node's allocatable ${nodeCpu}m (after daemonsets)`,
      );
    if (overMemory > 0)
      throw new SimError(
        'UNSCHEDULABLE',
        `pod of ${object} requests ${Math.round(pod.memoryMiB)}Mi memory, ${Math.round(overMemory)}Mi more than a ${vm.name} node's allocatable ${Math.round(nodeMemory)}Mi (after daemonsets)`,
      );
  }
  // Bin-packing by the largest pod: the autoscaler's estimate errs towards one node too many, never too few.
  const podsPerNode = Math.max(
    1,
    Math.min(
      profile.nodePool.maxPods,
      ...templates.map(({ pod }) =>
        Math.min(Math.floor(nodeCpu / Math.max(1, pod.cpuMilli)), Math.floor(nodeMemory / Math.max(1, pod.memoryMiB))),
      ),
    ),
  );
  const provision: PercentileDistribution = {
    floor: profile.autoscaler.provisionFloorSeconds * 1000,
    points: [
      { p: 0.5, value: profile.autoscaler.provisionP50Seconds * 1000 },
      { p: 0.9, value: profile.autoscaler.provisionP90Seconds * 1000 },
      { p: 0.99, value: profile.autoscaler.provisionP99Seconds * 1000 },
      { p: 1, value: profile.autoscaler.provisionP99Seconds * 1000 * 1.1 },
    ],
  };

  // ---- broker ----
  const ready: SimMessage[] = [];
  let readyHead = 0;
  let locked = 0;
  let sent = 0;
  let results = 0;
  let deadLettered = 0;
  const broker = new RateLimiter(profile.broker.throughputPerSecond, profile.broker.throughputPerSecond);
  const readyCount = () => ready.length - readyHead;
  const takeMessage = (): SimMessage | undefined => {
    if (readyHead >= ready.length) return undefined;
    const m = ready[readyHead++] as SimMessage;
    if (readyHead > 4096 && readyHead * 2 > ready.length) {
      ready.splice(0, readyHead);
      readyHead = 0;
    }
    locked += 1;
    return m;
  };
  /** A lost lock (the holder died): the message is ready again after the lock expires. */
  const abandon = (m: SimMessage) => {
    q.after(profile.broker.lockSeconds * 1000, () => {
      locked -= 1;
      if (m.deliveries >= profile.broker.maxDeliveries) deadLettered += 1;
      else {
        ready.push(m);
        wakeConsumers();
      }
    });
  };
  // Deployment consumer slots with nothing to do; the broker hands them new messages as they arrive.
  const idleSlots: SimPod[] = [];
  const wakeConsumers = () => {
    let available = readyCount();
    while (available > 0 && idleSlots.length > 0) {
      const p = idleSlots.shift() as SimPod;
      if (p.sim === 'done' || p.terminating) continue;
      available -= 1;
      p.busy += 1;
      consume(p);
    }
  };
  const depthFor = (trigger: TriggerSpec): number => {
    const src = trigger.source;
    if (src.getter === 'rabbitmq.queueLength' && src.includeUnacked === false) return readyCount();
    return readyCount() + locked;
  };

  // ---- nodes and the scheduler ----
  const nodes: SimNode[] = [];
  const withRoom = new Set<SimNode>();
  let nodeSeq = 0;
  let lastScaleUpAt = -Infinity;
  let evictedNodes = 0;
  let peakNodes = 0;
  let nodeMs = 0;
  const liveNodes = () => nodes.filter((n) => n.state !== 'gone');
  const addNode = (delayMs: number) => {
    const node: SimNode = {
      name: `node-${++nodeSeq}`,
      requestedAt: q.now(),
      readyAt: null,
      state: 'provisioning',
      freeCpu: nodeCpu,
      freeMemory: nodeMemory,
      pods: 0,
      imageCached: false,
      pullFreeAt: 0,
      emptySince: 0,
    };
    nodes.push(node);
    const limit = profile.autoscaler.maxNodeProvisionSeconds * 1000;
    q.after(Math.min(delayMs, limit), () => {
      if (node.state !== 'provisioning') return;
      // Past max-node-provision-time the autoscaler gives up on the node and asks again on its next scan.
      if (delayMs > limit) {
        node.state = 'gone';
        return;
      }
      node.state = 'ready';
      node.readyAt = q.now();
      node.emptySince = q.now();
      withRoom.add(node);
      scheduleEviction(node);
      kickScheduler();
    });
  };
  const scheduleEviction = (node: SimNode) => {
    const rate = profile.nodePool.evictionsPerNodeHour;
    if (rate <= 0) return;
    q.after(rng.exponential(3_600_000 / rate), () => {
      if (node.state !== 'ready') return;
      node.state = 'gone';
      withRoom.delete(node);
      evictedNodes += 1;
      for (const p of podsOn(node)) killPod(p, 137);
    });
  };
  const podsOn = (node: SimNode) => [...unfinished.values()].filter((p) => p.nodeRef === node);
  for (let i = 0; i < (virtual ? 0 : profile.nodePool.initialCount); i += 1) addNode(0);

  // Pods waiting for a node, FIFO.
  const unscheduled: SimPod[] = [];
  let unscheduledHead = 0;
  const scheduler = new RateLimiter(profile.controlPlane.schedulerQps, 1);
  const aciQuota: number[] = [];
  const quotaCreates: number[] = [];
  let pumpAt: number | null = null;
  const kickScheduler = () => {
    if (pumpAt !== null || unscheduledHead >= unscheduled.length) return;
    pumpAt = scheduler.take(q.now());
    q.at(pumpAt, pump);
  };
  const pump = () => {
    pumpAt = null;
    while (unscheduledHead < unscheduled.length && (unscheduled[unscheduledHead] as SimPod).sim !== 'queued') unscheduledHead += 1;
    const p = unscheduled[unscheduledHead];
    if (p === undefined) return;
    if (unscheduledHead > 4096 && unscheduledHead * 2 > unscheduled.length) {
      unscheduled.splice(0, unscheduledHead);
      unscheduledHead = 0;
    }
    if (virtual) {
      // ACI: each pod is a container group; creates beyond the quota window's cap wait for it to roll.
      const window = profile.autoscaler.createQuotaWindowSeconds * 1000;
      while (aciQuota.length > 0 && (aciQuota[0] as number) <= q.now() - window) aciQuota.shift();
      if (aciQuota.length >= profile.autoscaler.createQuota) {
        p.wait = 'quota';
        pumpAt = (aciQuota[0] as number) + window;
        q.at(pumpAt, pump);
        return;
      }
      aciQuota.push(q.now());
      quotaCreates.push(q.now() - startAt);
      unscheduledHead += 1;
      p.wait = 'start';
      p.sim = 'starting';
      p.node = 'virtual-node-aci';
      after(p, profile.autoscaler.perPodStartSeconds * 1000 + profile.pod.containerStartMs, () => run(p));
      kickScheduler();
      return;
    }
    const node = withRoom.values().next().value;
    if (node === undefined) return; // The autoscaler's scan sees the pod unschedulable; a new node kicks us.
    unscheduledHead += 1;
    bind(p, node);
    kickScheduler();
  };
  const bind = (p: SimPod, node: SimNode) => {
    if (node.state !== 'ready') violations.push(`${p.name} bound to ${node.name} while ${node.state}`);
    p.nodeRef = node;
    p.node = node.name;
    node.freeCpu -= p.tpl.cpuMilli;
    node.freeMemory -= p.tpl.memoryMiB;
    node.pods += 1;
    if (node.pods >= podsPerNode) withRoom.delete(node);
    let readyAt = q.now();
    if (!node.imageCached) {
      // Pulls on a node are serialised; the first one fills the cache for every later pod.
      // The registry's throughput is shared by the nodes pulling at the same time.
      const pulling = Math.max(
        1,
        nodes.reduce((c, n) => c + (n.pullFreeAt > q.now() ? 1 : 0), 1),
      );
      const pullMs = (profile.image.sizeMiB / Math.min(profile.image.nodeBandwidthMiBps, profile.image.registryMiBps / pulling)) * 1000;
      node.pullFreeAt = Math.max(node.pullFreeAt, q.now()) + pullMs;
      node.imageCached = true;
      readyAt = node.pullFreeAt;
      p.wait = 'image';
    } else if (node.pullFreeAt > q.now()) {
      readyAt = node.pullFreeAt;
      p.wait = 'image';
    }
    p.sim = 'pulling';
    after(p, readyAt - q.now(), () => {
      p.sim = 'starting';
      p.wait = 'start';
      after(p, profile.pod.containerStartMs, () => run(p));
    });
  };

  // ---- pods ----
  const all = new Map<string, SimPod>();
  const unfinished = new Map<string, SimPod>();
  const counts = { pending: 0, running: 0, terminating: 0 };
  const perWorkload = new Map<string, { pending: number; running: number; terminating: number }>();
  const countsOf = (name: string) => {
    let c = perWorkload.get(name);
    if (c === undefined) perWorkload.set(name, (c = { pending: 0, running: 0, terminating: 0 }));
    return c;
  };
  const count = (p: SimPod, field: 'pending' | 'running' | 'terminating', delta: number) => {
    counts[field] += delta;
    countsOf(p.workload)[field] += delta;
  };
  const kinds = new Map<string, { kind: SimPod['kind']; concurrency: number }>(
    deployments.map((d) => [d.spec.scaleTargetRef.name, { kind: 'deployment', concurrency: d.concurrency }]),
  );
  let podSeq = 0;
  let podsEvicted = 0;
  const kedaClient = new RateLimiter(profile.controlPlane.kedaQps, profile.controlPlane.kedaBurst);
  const createTimes: number[] = [];
  const violations: string[] = [];
  const after = (p: SimPod, ms: number, fn: () => void) => {
    p.timer = q.after(ms, () => {
      p.timer = undefined;
      fn();
    });
  };
  const run = (p: SimPod) => {
    if (p.nodeRef !== undefined && p.nodeRef.state !== 'ready')
      violations.push(`${p.name} started on ${p.nodeRef.name} while ${p.nodeRef.state}`);
    p.phase = 'Running';
    p.startedAt = q.now();
    count(p, 'pending', -1);
    count(p, 'running', 1);
    // Running from the container start, as a pod's phase is: the process starts inside it, then receives.
    p.sim = 'receiving';
    p.wait = 'start';
    after(p, profile.pod.processStartMs, () => {
      if (p.kind === 'job') return receive(p);
      p.sim = 'working';
      p.wait = undefined;
      p.busy = p.concurrency;
      for (let i = 0; i < p.concurrency; i += 1) consume(p);
    });
  };
  /** A Deployment pod's consumer slot ended (no message, or shutting down); the last one out ends a terminating pod. */
  const slotEnded = (p: SimPod) => {
    p.busy -= 1;
    if (p.terminating && p.busy === 0) finish(p, 0, 'deleted');
  };
  /** One consumer slot of a Deployment pod: receive, work, settle, again, until the queue is empty or SIGTERM. */
  const consume = (p: SimPod) => {
    if (p.sim === 'done') return;
    if (p.terminating) return slotEnded(p);
    q.after(broker.take(q.now(), profile.broker.creditsPerMessageOp) - q.now(), () => {
      if (p.sim === 'done') return;
      if (p.terminating) return slotEnded(p);
      const m = takeMessage();
      if (m === undefined) {
        idleSlots.push(p);
        return slotEnded(p);
      }
      m.deliveries += 1;
      (p.held ??= []).push(m);
      q.after(profile.pod.workMs, () => {
        if (p.sim === 'done') return;
        q.after(broker.take(q.now(), profile.broker.creditsPerMessageOp) - q.now(), () => {
          // Killed meanwhile: the lock is lost and the message comes back (killPod abandoned it).
          if (p.sim === 'done') return;
          locked -= 1;
          m.done = true;
          results += 1;
          p.held?.splice(p.held.indexOf(m), 1);
          consume(p);
        });
      });
    });
  };
  const receive = (p: SimPod) => {
    p.wait = 'broker';
    after(p, broker.take(q.now(), profile.broker.creditsPerMessageOp) - q.now(), () => {
      const m = takeMessage();
      if (m === undefined) return finish(p, 0, 'exited');
      m.deliveries += 1;
      (p.held ??= []).push(m);
      p.sim = 'working';
      p.wait = undefined;
      after(p, profile.pod.workMs, () => {
        after(p, broker.take(q.now(), profile.broker.creditsPerMessageOp) - q.now(), () => {
          locked -= 1;
          m.done = true;
          results += 1;
          p.held?.splice(p.held.indexOf(m), 1);
          finish(p, 0, 'exited');
        });
      });
    });
  };
  const finish = (p: SimPod, exitCode: number, ending: PodInfo['ending']) => {
    if (p.phase === 'Running') count(p, 'running', -1);
    else if (p.phase === 'Pending') count(p, 'pending', -1);
    if (p.terminating) count(p, 'terminating', -1);
    // A pod deleted before its process started must not start it later.
    p.timer?.();
    p.timer = undefined;
    p.phase = exitCode === 0 ? 'Succeeded' : 'Failed';
    p.exitCode = exitCode;
    p.ending = ending;
    p.finishedAt = q.now();
    p.sim = 'done';
    p.wait = undefined;
    unfinished.delete(p.name);
    const node = p.nodeRef;
    if (node !== undefined && node.state === 'ready') {
      node.freeCpu += p.tpl.cpuMilli;
      node.freeMemory += p.tpl.memoryMiB;
      node.pods -= 1;
      if (node.pods === 0) node.emptySince = q.now();
      withRoom.add(node);
      kickScheduler();
    }
  };
  const killPod = (p: SimPod, exitCode: number) => {
    p.timer?.();
    p.timer = undefined;
    for (const m of p.held ?? []) abandon(m);
    p.held = undefined;
    if (exitCode === 137) podsEvicted += 1;
    p.nodeRef = undefined;
    finish(p, exitCode, 'killed');
  };
  const runtime: PodRuntime<SimPodTemplate> = {
    create(name, spec) {
      const kind = kinds.get(name);
      const p: SimPod = {
        name: `${name}-${++podSeq}`,
        workload: name,
        phase: 'Pending',
        terminating: false,
        createdAt: q.now(),
        startedAt: undefined,
        finishedAt: undefined,
        exitCode: undefined,
        signal: undefined,
        pid: undefined,
        node: undefined,
        logFile: undefined,
        ending: undefined,
        sim: 'api',
        wait: 'rate-limit',
        nodeRef: undefined,
        held: undefined,
        timer: undefined,
        tpl: spec,
        kind: kind?.kind ?? 'job',
        concurrency: kind?.concurrency ?? 1,
        busy: 0,
      };
      all.set(p.name, p);
      unfinished.set(p.name, p);
      count(p, 'pending', 1);
      // KEDA's client creates each Job (the ReplicaSet controller each pod) with one API call under its QPS/burst limiter.
      const at = kedaClient.take(q.now());
      after(p, at - q.now(), () => {
        createTimes.push(q.now() - startAt);
        p.sim = 'queued';
        p.wait = 'node';
        unscheduled.push(p);
        kickScheduler();
      });
      return p;
    },
    active(name) {
      return [...unfinished.values()].filter((p) => name === undefined || p.workload === name);
    },
    counts(name): PodCounts {
      const c = countsOf(name);
      return { pending: c.pending, running: c.running, terminating: c.terminating, unfinished: c.pending + c.running };
    },
    get(name) {
      return all.get(name);
    },
    delete(name) {
      const p = all.get(name);
      if (p === undefined || p.sim === 'done') return Promise.resolve(p as PodInfo);
      if (p.phase === 'Running' && p.kind === 'job') violations.push(`running Job pod ${p.name} deleted`);
      return new Promise((resolve) => {
        p.terminating = true;
        count(p, 'terminating', 1);
        // A Deployment pod on SIGTERM stops receiving and exits when its in-flight messages are settled
        // (slotEnded); what is still held when the grace period ends is lost with the kill and comes back.
        if (p.kind === 'deployment' && p.phase === 'Running' && p.busy === 0) finish(p, 0, 'deleted');
        if (p.sim === 'done') return resolve(p);
        q.after(p.phase === 'Pending' ? 0 : p.tpl.terminationGraceSeconds * 1000, () => {
          if (p.sim !== 'done') killPod(p, 143);
          resolve(p);
        });
      });
    },
  };

  // ---- the autoscaler ----
  const scan = () => {
    const waiting = unscheduled.length - unscheduledHead;
    const live = liveNodes();
    const provisioning = live.filter((n) => n.state === 'provisioning').length;
    const room = Math.max(0, waiting - provisioning * podsPerNode - [...withRoom].reduce((s, n) => s + (podsPerNode - n.pods), 0));
    const want = Math.min(Math.ceil(room / podsPerNode), profile.nodePool.maxCount - live.length);
    if (want > 0) {
      for (let i = 0; i < want; i += 1) addNode(samplePercentiles(provision, rng.next()));
      lastScaleUpAt = q.now();
    }
    // Scale-down: empty nodes past the unneeded time, not too soon after a scale-up, a bulk at a time.
    if (waiting === 0 && q.now() - lastScaleUpAt >= profile.autoscaler.scaleDownDelayAfterAddSeconds * 1000) {
      let removed = 0;
      let count = live.length;
      for (const n of live) {
        if (removed >= profile.autoscaler.maxEmptyBulkDelete || count <= profile.nodePool.minCount) break;
        if (n.state === 'ready' && n.pods === 0 && q.now() - n.emptySince >= profile.autoscaler.scaleDownUnneededSeconds * 1000) {
          n.state = 'gone';
          withRoom.delete(n);
          removed += 1;
          count -= 1;
        }
      }
    }
    const nowLive = live.length + want;
    if (nowLive > profile.nodePool.maxCount) violations.push(`${nowLive} nodes > pool max ${profile.nodePool.maxCount}`);
    peakNodes = Math.max(peakNodes, nowLive);
  };
  if (!virtual && profile.autoscaler.kind !== 'none') {
    const interval =
      (profile.autoscaler.kind === 'karpenter' ? profile.autoscaler.batchWindowSeconds : profile.autoscaler.scanIntervalSeconds) * 1000;
    const loop = () => {
      scan();
      if (!done()) q.after(interval, loop);
    };
    q.after(interval, loop);
  }

  // ---- KEDA ----
  const decisions: Decision[] = [];
  const mgmt = new RateLimiter(profile.broker.throughputPerSecond, profile.broker.throughputPerSecond);
  const readTriggers = (triggers: readonly TriggerSpec[]): Promise<TriggerReading[]> => {
    // Service Bus charges a management read 10 credits; it shares the namespace's budget with messages.
    if (profile.broker.kind === 'servicebus') {
      broker.take(q.now(), profile.broker.creditsPerManagementRead);
      mgmt.take(q.now());
    }
    return Promise.resolve(triggers.map((t) => ({ value: depthFor(t) })));
  };
  const log = (d: Decision) => void decisions.push(d);
  const controller =
    workload === undefined
      ? undefined
      : new ScaledJobController<SimPodTemplate>({
          workload: workload.spec.name,
          supervisor: runtime,
          podSpec: () => workload.pod,
          spec: workload.spec,
          backoffLimit: workload.backoffLimit,
          failJobExitCodes: workload.failJobExitCodes,
          readTriggers,
          log,
        });
  // Every ScaledObject reads the same modelled queue as the ScaledJob (the overlays point them at one).
  const scaledObjects = deployments.map((d) => ({
    deployment: d,
    controller: new ScaledObjectController<SimPodTemplate>({
      workload: d.spec.scaleTargetRef.name,
      supervisor: runtime,
      podSpec: () => d.pod,
      spec: d.spec,
      now: startAt,
      readTriggers,
      log,
    }),
  }));
  const controllers: ScalingController[] = [...(controller === undefined ? [] : [controller]), ...scaledObjects.map((o) => o.controller)];
  const noJobs = { created: 0, unfinished: 0, succeeded: 0, failed: 0 };

  // ---- producer ----
  let nextId = 0;
  const sendBatch = () => {
    const batch = input.rate <= 0 ? input.count : Math.min(input.count - sent, Math.max(1, Math.round(input.rate / 10)));
    for (let i = 0; i < batch; i += 1) ready.push({ id: nextId++, deliveries: 0, done: false });
    sent += batch;
    wakeConsumers();
    if (sent < input.count) q.after(input.rate <= 0 ? 0 : (batch / input.rate) * 1000, sendBatch);
  };
  q.after(0, sendBatch);

  // ---- sampling and the end ----
  const samples: ClusterSample[] = [];
  let lastKey = '';
  let lastSample: ClusterSample | undefined;
  const sampleNow = (): ClusterSample => {
    const waiting: Record<WaitReason, number> = { 'rate-limit': 0, node: 0, quota: 0, image: 0, start: 0, broker: 0 };
    let live = 0;
    let provisioning = 0;
    for (const n of nodes) {
      if (n.state === 'ready') live += 1;
      else if (n.state === 'provisioning') provisioning += 1;
    }
    for (const p of unfinished.values()) if (p.wait !== undefined) waiting[p.wait] += 1;
    const jobs = controller?.jobCounts() ?? noJobs;
    let replicas = 0;
    for (const { deployment, controller: so } of scaledObjects) {
      replicas += so.state.replicas;
      if (so.state.replicas > deployment.spec.maxReplicaCount)
        violations.push(`${so.state.replicas} replicas of ${so.workload} > maxReplicaCount ${deployment.spec.maxReplicaCount}`);
    }
    const s: ClusterSample = {
      at: q.now(),
      depth: readyCount() + locked,
      ready: readyCount(),
      inFlight: locked,
      deadLettered,
      results,
      running: counts.running,
      desired: jobs.unfinished + replicas,
      nodesReady: live,
      nodesProvisioning: provisioning,
      nodesEvicted: evictedNodes,
      pendingPods: counts.pending,
      waiting,
    };
    if (workload !== undefined && jobs.unfinished > workload.spec.maxReplicaCount)
      violations.push(`${jobs.unfinished} Jobs > maxReplicaCount ${workload.spec.maxReplicaCount}`);
    return s;
  };
  let lastSampleAt = startAt;
  const sample = () => {
    const s = sampleNow();
    // Node time from the elapsed virtual time: the engine runs a task on the first tick at or after its period.
    nodeMs += s.nodesReady * (s.at - lastSampleAt);
    lastSampleAt = s.at;
    const { at: _at, ...rest } = s;
    const key = JSON.stringify(rest);
    if (key !== lastKey) {
      if (lastSample !== undefined && samples[samples.length - 1] !== lastSample) samples.push(lastSample);
      samples.push(s);
      lastKey = key;
    }
    lastSample = s;
    input.onProgress?.(results + deadLettered, input.count);
  };
  // A sample per second, finer when KEDA polls faster (local runs), so short runs keep their shape.
  const fastestPoll = Math.min(
    ...(workload === undefined ? [] : [workload.spec.pollingIntervalSeconds]),
    ...deployments.map((d) => d.spec.pollingIntervalSeconds),
  );
  const sampleMs = Math.min(1000, Math.max(100, (fastestPoll * 1000) / 4));
  let idleSince: number | null = null;
  const done = (): boolean => {
    const jobPods = workload === undefined ? undefined : countsOf(workload.spec.name);
    // A ScaledObject is back when it is at its minReplicaCount with exactly that many pods running.
    const objectsDown = scaledObjects.every(({ deployment, controller: so }) => {
      const c = countsOf(so.workload);
      return (
        so.state.replicas <= deployment.spec.minReplicaCount && c.pending === 0 && c.terminating === 0 && c.running === so.state.replicas
      );
    });
    const finished =
      sent >= input.count &&
      results + deadLettered >= input.count &&
      (jobPods === undefined || jobPods.pending + jobPods.running === 0) &&
      objectsDown;
    const live = liveNodes();
    // Nodes still carrying minReplicaCount pods stay; only empty ones must have gone.
    const nodesDown =
      live.length <= profile.nodePool.minCount ||
      live.every((n) => n.state === 'ready' && n.pods > 0) ||
      virtual ||
      profile.autoscaler.kind === 'none';
    if (finished && nodesDown) {
      idleSince ??= q.now();
      return true;
    }
    return false;
  };
  // KEDA's loops run in the same ScalingEngine as keda-local's, on the queue's virtual clock: the
  // controllers' own due rules pick the polls out of its ticks; sampling and the end are its tasks.
  const clock = new VirtualClock(q);
  const tasks: EngineTask[] = [
    { name: 'sample', everyMs: sampleMs, run: sample },
    {
      name: 'end',
      everyMs: 0,
      run: (_now, engine) => {
        if (done()) engine.stop('drained');
      },
    },
  ];
  const engine = new ScalingEngine({
    clock,
    controllers,
    tickMs: Math.min(DEFAULT_TICK_MS, sampleMs),
    tasks,
    onError: (error, source) => violations.push(`${source}: ${String(error)}`),
  });
  let engineRun: Promise<string> | undefined;
  clock.start(() => {
    engineRun = engine.run().finally(() => clock.release());
  });
  await q.run(() => idleSince !== null, startAt + (input.limitMs ?? 48 * 3_600_000));
  // Past the limit the engine is asleep on a timer that will not fire: wake it to end.
  engine.stop('limit');
  await engineRun;
  // The final state (everything done) as its own sample, so drained and back-to-zero are seen.
  const ended = sampleNow();
  if (
    lastSample !== undefined &&
    samples[samples.length - 1] !== lastSample &&
    JSON.stringify({ ...lastSample, at: 0 }) !== JSON.stringify({ ...ended, at: 0 })
  )
    samples.push(lastSample);
  samples.push(ended);
  const jobs = controller?.jobCounts() ?? noJobs;
  if (results + deadLettered > sent) violations.push(`results ${results} + dead-lettered ${deadLettered} > sent ${sent}`);
  return {
    startedAt: startAt,
    endedAt: q.now(),
    finished: idleSince !== null,
    sent,
    results,
    deadLettered,
    duplicates: 0,
    jobsCreated: jobs.created,
    jobsFailed: jobs.failed,
    podsCreated: podSeq,
    podsEvicted,
    peakNodes,
    nodeHours: nodeMs / 3_600_000,
    events: q.processed,
    samples,
    decisions,
    createTimes,
    quotaCreates,
    nodeLaunches: nodes.map((n) => ({ requestedAt: n.requestedAt - startAt, readyAt: n.readyAt === null ? null : n.readyAt - startAt })),
    violations,
  };
}
