/**
 * Real worker processes treated as pods. A pod is created Pending, waits for room on a node (when a
 * node model is configured) and for the pod start delay, then its process is spawned (Running) and it
 * ends Succeeded (exit 0) or Failed. Deleting a pod does what the kubelet does: SIGTERM, the grace
 * period, then SIGKILL. Everything is event-driven (timers and exit events, no polling), so
 * supervising many processes costs the supervisor almost nothing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import { SupervisorError } from './errors.ts';
import { NodePool, type NodeModel } from './nodes.ts';
import type { PodCounts, PodInfo, PodPhase, PodRuntime } from './runtime.ts';

export interface ProcessSpec {
  /** Executable (for Surge: `process.execPath`, the running Node). */
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  /** The complete environment of the process (nothing is inherited implicitly). */
  readonly env: Readonly<Record<string, string>>;
  /** stdout and stderr go to this file (appended); `{pod}` is replaced by the pod's name; undefined: discarded. */
  readonly logFile?: string;
  /** SIGTERM → SIGKILL budget (`terminationGracePeriodSeconds`). */
  readonly terminationGraceMs: number;
}

export interface SupervisorEvents {
  /** The pod's process was spawned. */
  onStarted?: (pod: PodInfo) => void;
  /** The pod reached Succeeded or Failed. */
  onFinished?: (pod: PodInfo) => void;
}

export interface SupervisorOptions extends SupervisorEvents {
  /** Extra time between "scheduled on a ready node" and the process start (image pull, container start). Default 0. */
  readonly podStartDelayMs?: number;
  /** Nodes of K pods that take T ms to provision; undefined: unlimited capacity, no provisioning delay. */
  readonly nodes?: NodeModel;
  readonly now?: () => number;
  /** Injectable for tests. */
  readonly spawnProcess?: (spec: ProcessSpec, stdio: ['ignore', number | 'ignore', number | 'ignore']) => ChildProcess;
}

interface Pod {
  name: string;
  workload: string;
  spec: ProcessSpec;
  phase: PodPhase;
  terminating: boolean;
  createdAt: number;
  startedAt: number | undefined;
  finishedAt: number | undefined;
  exitCode: number | null | undefined;
  signal: NodeJS.Signals | null | undefined;
  node: string | undefined;
  child: ChildProcess | undefined;
  startTimer: NodeJS.Timeout | undefined;
  killTimer: NodeJS.Timeout | undefined;
  ending: PodInfo['ending'];
  done: Promise<PodInfo>;
  resolveDone: (info: PodInfo) => void;
}

const defaultSpawn = (spec: ProcessSpec, stdio: ['ignore', number | 'ignore', number | 'ignore']): ChildProcess =>
  spawn(spec.command, [...spec.args], { cwd: spec.cwd, env: { ...spec.env }, stdio });

export class Supervisor implements PodRuntime<ProcessSpec> {
  readonly #pods = new Map<string, Pod>();
  readonly #counters = new Map<string, number>();
  readonly #options: SupervisorOptions;
  readonly #now: () => number;
  readonly #nodes: NodePool | undefined;
  #closed = false;

  constructor(options: SupervisorOptions = {}) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#nodes = options.nodes === undefined ? undefined : new NodePool(options.nodes, this.#now, () => this.#schedulePending());
  }

  /** Creates a pod of `workload`; it starts as soon as a node has room and the start delay has passed. */
  create(workload: string, spec: ProcessSpec): PodInfo {
    if (this.#closed) throw new SupervisorError('SUPERVISOR_CLOSED', 'the supervisor is shut down: no new pods');
    const n = (this.#counters.get(workload) ?? 0) + 1;
    this.#counters.set(workload, n);
    let resolveDone!: (info: PodInfo) => void;
    const done = new Promise<PodInfo>((resolve) => (resolveDone = resolve));
    const name = `${workload}-${n.toString(36).padStart(5, '0')}`;
    const pod: Pod = {
      name,
      workload,
      spec: spec.logFile === undefined ? spec : { ...spec, logFile: spec.logFile.replaceAll('{pod}', name) },
      phase: 'Pending',
      terminating: false,
      createdAt: this.#now(),
      startedAt: undefined,
      finishedAt: undefined,
      exitCode: undefined,
      signal: undefined,
      node: undefined,
      child: undefined,
      startTimer: undefined,
      killTimer: undefined,
      ending: undefined,
      done,
      resolveDone,
    };
    this.#pods.set(pod.name, pod);
    this.#schedule(pod);
    return info(pod);
  }

  /** Every pod not yet finished (Pending or Running), optionally of one workload, oldest first. */
  active(workload?: string): PodInfo[] {
    return [...this.#pods.values()].filter((p) => (workload === undefined || p.workload === workload) && !isFinished(p)).map(info);
  }

  /** Counts for a workload: `pending` not yet running, `running` process alive, `terminating` among them. */
  counts(workload: string): PodCounts {
    let pending = 0;
    let running = 0;
    let terminating = 0;
    for (const pod of this.#pods.values()) {
      if (pod.workload !== workload || isFinished(pod)) continue;
      if (pod.phase === 'Pending') pending += 1;
      else running += 1;
      if (pod.terminating) terminating += 1;
    }
    return { pending, running, terminating, unfinished: pending + running };
  }

  get(name: string): PodInfo | undefined {
    const pod = this.#pods.get(name);
    return pod === undefined ? undefined : info(pod);
  }

  /** Resolves when the pod has finished. */
  async wait(name: string): Promise<PodInfo> {
    const pod = this.#require(name);
    return pod.done;
  }

  /**
   * Deletes a pod as the kubelet does: a Pending pod is dropped, a Running one gets SIGTERM and, if still
   * alive after its grace period, SIGKILL. Resolves when the pod has finished.
   */
  async delete(name: string): Promise<PodInfo> {
    const pod = this.#require(name);
    if (isFinished(pod)) return info(pod);
    if (!pod.terminating) {
      pod.terminating = true;
      if (pod.phase === 'Pending') {
        clearTimeout(pod.startTimer);
        this.#finish(pod, 'Failed', 'cancelled');
      } else if (pod.child) {
        pod.child.kill('SIGTERM');
        pod.killTimer = setTimeout(() => {
          if (!isFinished(pod) && pod.child) {
            pod.ending = 'killed';
            pod.child.kill('SIGKILL');
          }
        }, pod.spec.terminationGraceMs);
      }
    }
    return pod.done;
  }

  /** SIGKILL now, without a grace period (a node lost, an OOM kill): for chaos tests. */
  kill(name: string): boolean {
    const pod = this.#require(name);
    if (pod.phase !== 'Running' || !pod.child || isFinished(pod)) return false;
    pod.ending = 'killed';
    return pod.child.kill('SIGKILL');
  }

  /** Deletes every pod (SIGTERM, grace, SIGKILL) and refuses new ones. */
  async shutdown(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#pods.values()].filter((p) => !isFinished(p)).map((p) => this.delete(p.name)));
    this.#nodes?.close();
  }

  /** Nodes of the node model (empty without one). */
  nodes(): { name: string; ready: boolean; readyAt: number; pods: number }[] {
    return this.#nodes?.list() ?? [];
  }

  #require(name: string): Pod {
    const pod = this.#pods.get(name);
    if (!pod) throw new SupervisorError('POD_UNKNOWN', `no pod named ${name}`);
    return pod;
  }

  #schedule(pod: Pod): void {
    if (this.#nodes) {
      const slot = this.#nodes.place(pod.name);
      if (!slot) return; // waits for a node; #schedulePending retries when one becomes ready
      pod.node = slot.node;
      if (!slot.ready) return;
    }
    const delay = this.#options.podStartDelayMs ?? 0;
    if (delay <= 0) this.#start(pod);
    else pod.startTimer = setTimeout(() => this.#start(pod), delay);
  }

  /** A node became ready: start the pods placed on it. */
  #schedulePending(): void {
    for (const pod of this.#pods.values()) {
      if (pod.phase === 'Pending' && !pod.terminating && pod.startTimer === undefined) this.#schedule(pod);
    }
  }

  #start(pod: Pod): void {
    pod.startTimer = undefined;
    if (pod.terminating || isFinished(pod)) return;
    let fd: number | undefined;
    try {
      if (pod.spec.logFile !== undefined) {
        const file = pod.spec.logFile;
        mkdirSync(path.dirname(file), { recursive: true });
        fd = openSync(file, 'a');
      }
      const out = fd ?? 'ignore';
      const child = (this.#options.spawnProcess ?? defaultSpawn)(
        { ...pod.spec, env: { ...pod.spec.env, WORKER_INSTANCE: pod.spec.env['WORKER_INSTANCE'] ?? pod.name } },
        ['ignore', out, out],
      );
      pod.child = child;
      pod.phase = 'Running';
      pod.startedAt = this.#now();
      child.once('error', () => {
        // spawn failures (ENOENT, EMFILE) arrive here instead of an exit
        if (!isFinished(pod)) this.#finish(pod, 'Failed', 'spawn-failed');
      });
      child.once('exit', (code, signal) => {
        pod.exitCode = code;
        pod.signal = signal;
        const ending = pod.ending ?? (pod.terminating ? 'deleted' : 'exited');
        this.#finish(pod, code === 0 ? 'Succeeded' : 'Failed', ending);
      });
      this.#options.onStarted?.(info(pod));
    } catch {
      this.#finish(pod, 'Failed', 'spawn-failed');
    } finally {
      // The child holds its own copy of the descriptor.
      if (fd !== undefined) closeSync(fd);
    }
  }

  #finish(pod: Pod, phase: 'Succeeded' | 'Failed', ending: NonNullable<PodInfo['ending']>): void {
    if (isFinished(pod)) return;
    clearTimeout(pod.killTimer);
    clearTimeout(pod.startTimer);
    pod.phase = phase;
    pod.ending = ending;
    pod.finishedAt = this.#now();
    pod.child?.removeAllListeners();
    this.#nodes?.release(pod.name);
    const snapshot = info(pod);
    pod.resolveDone(snapshot);
    this.#options.onFinished?.(snapshot);
  }
}

function isFinished(pod: Pod): boolean {
  return pod.phase === 'Succeeded' || pod.phase === 'Failed';
}

function info(pod: Pod): PodInfo {
  return {
    name: pod.name,
    workload: pod.workload,
    phase: pod.phase,
    terminating: pod.terminating,
    createdAt: pod.createdAt,
    startedAt: pod.startedAt,
    finishedAt: pod.finishedAt,
    exitCode: pod.exitCode,
    signal: pod.signal,
    pid: pod.child?.pid,
    node: pod.node,
    logFile: pod.spec.logFile,
    ending: pod.ending,
  };
}
