/**
 * KEDA's controllers over real processes. The decisions come from `@surge/scaling` (pure functions, the
 * same rules as KEDA and the HPA); these classes only do what the cluster does with them:
 * - ScaledObject: KEDA's poll and the HPA's sync each set the Deployment's replicas, and a ReplicaSet
 *   reconciles pods to that count (replacing pods that died; scale-in deletes pending pods first, then
 *   the newest — SIGTERM, grace, SIGKILL).
 * - ScaledJob: each poll creates Jobs; a Job whose pod fails is retried with a new pod up to its
 *   `backoffLimit`; running Jobs are never deleted on scale-in.
 * Every decision is handed to `log` with all its inputs.
 */
import {
  createScaledJobState,
  createScaledObjectState,
  hpaSync,
  kedaPoll,
  scaledJobDue,
  scaledJobPoll,
  scaledObjectDue,
  type HpaControllerOptions,
  type HpaSyncDecision,
  type KedaPollDecision,
  type ScaledJobDecision,
  type ScaledJobSpec,
  type ScaledJobState,
  type ScaledObjectSpec,
  type ScaledObjectState,
  type TriggerReading,
  type TriggerSpec,
} from '@surge/scaling';
import type { PodRuntime } from './runtime.ts';
import type { PodInfo } from './runtime.ts';

export type Decision = KedaPollDecision | HpaSyncDecision | ScaledJobDecision;

/** Reads one value per trigger, in order; a failed read is `{ error }` (KEDA: the trigger is in error). */
export type TriggerReader = (triggers: readonly TriggerSpec[]) => Promise<TriggerReading[]>;

export interface WorkloadStatus {
  readonly workload: string;
  /** What the autoscaler wants: Deployment spec.replicas, or unfinished Jobs for a ScaledJob. */
  readonly desired: number;
  /** Processes alive (Running, including terminating ones). */
  readonly running: number;
  readonly pending: number;
  /** Pods started since the beginning (Jobs: pods of every attempt). */
  readonly started: number;
}

interface ControllerBase<S> {
  readonly workload: string;
  /** Where pods live: real processes (`Supervisor`) or the simulator's modelled pods. */
  readonly supervisor: PodRuntime<S>;
  /** What a new pod is made from (a process spec, or a modelled pod template). */
  readonly podSpec: () => S;
  readonly readTriggers: TriggerReader;
  readonly log: (decision: Decision) => void;
}

export interface ScaledObjectControllerOptions<S = unknown> extends ControllerBase<S> {
  readonly spec: ScaledObjectSpec;
  readonly now: number;
  readonly hpa?: Partial<HpaControllerOptions>;
}

export class ScaledObjectController<S = unknown> {
  readonly workload: string;
  #state: ScaledObjectState;
  readonly #options: ScaledObjectControllerOptions<S>;
  #started = 0;

  constructor(options: ScaledObjectControllerOptions<S>) {
    this.#options = options;
    this.workload = options.workload;
    this.#state = createScaledObjectState(options.spec, options.now, options.hpa === undefined ? {} : { controller: options.hpa });
  }

  get state(): ScaledObjectState {
    return this.#state;
  }

  /** Runs whatever loop is due at `now` (KEDA poll, HPA sync), then reconciles pods to the replica count. */
  async tick(now: number): Promise<void> {
    const due = scaledObjectDue(this.#state, now);
    if (due.kedaPoll || due.hpaSync) {
      // One read serves both loops in the same instant, as two reads a millisecond apart would.
      const live = await this.#options.readTriggers(this.#state.spec.triggers);
      // The HPA runs on its own clock: at start it finds 0 replicas (ScalingDisabled) and acts one sync
      // period after KEDA's first poll has activated the Deployment, as on a cluster.
      if (due.hpaSync) {
        // useCachedMetrics: the HPA is served the last poll's value instead of a live read.
        const cached = this.#state.lastPoll?.readings;
        const readings = this.#state.spec.triggers.map((t, i) => (t.useCachedMetrics && cached ? cached[i] : live[i]) as TriggerReading);
        const pods = this.#livePods();
        const { state, decision } = hpaSync(
          this.#state,
          { triggers: readings, statusReplicas: pods.length, readyReplicas: pods.filter((p) => p.phase === 'Running').length },
          now,
        );
        this.#state = state;
        this.#options.log(decision);
      }
      if (due.kedaPoll) {
        const { state, decision } = kedaPoll(this.#state, { triggers: live }, now);
        this.#state = state;
        this.#options.log(decision);
      }
    }
    this.reconcile();
  }

  /** The ReplicaSet: as many live pods as replicas; pods that died are replaced. */
  reconcile(): void {
    const pods = this.#livePods();
    const want = this.#state.replicas;
    for (let i = pods.length; i < want; i += 1) {
      this.#options.supervisor.create(this.workload, this.#options.podSpec());
      this.#started += 1;
    }
    if (pods.length > want) {
      // Kubernetes' ranking for deletion: unscheduled/pending first, then the most recently created.
      const victims = [...pods].sort((a, b) => rank(a) - rank(b) || b.createdAt - a.createdAt).slice(0, pods.length - want);
      for (const pod of victims) void this.#options.supervisor.delete(pod.name);
    }
  }

  status(): WorkloadStatus {
    const counts = this.#options.supervisor.counts(this.workload);
    return {
      workload: this.workload,
      desired: this.#state.replicas,
      running: counts.running,
      pending: counts.pending,
      started: this.#started,
    };
  }

  /** Back to zero and no process left. */
  get idle(): boolean {
    return this.#state.replicas === 0 && this.#options.supervisor.counts(this.workload).unfinished === 0;
  }

  #livePods(): PodInfo[] {
    return this.#options.supervisor.active(this.workload).filter((p) => !p.terminating);
  }
}

function rank(pod: PodInfo): number {
  return pod.phase === 'Pending' ? 0 : 1;
}

export interface ScaledJobControllerOptions<S = unknown> extends ControllerBase<S> {
  readonly spec: ScaledJobSpec;
  /** `jobTargetRef.backoffLimit` (Kubernetes default 6): failed pods retried per Job. */
  readonly backoffLimit: number;
  /** Exit codes that fail the Job at once (`podFailurePolicy` FailJob rules). Default [2]. */
  readonly failJobExitCodes?: readonly number[];
}

interface Job {
  readonly name: string;
  pod: string;
  failures: number;
}

export class ScaledJobController<S = unknown> {
  readonly workload: string;
  #state: ScaledJobState;
  readonly #options: ScaledJobControllerOptions<S>;
  readonly #jobs = new Map<string, Job>();
  #created = 0;
  #started = 0;
  #failedJobs = 0;
  #succeededJobs = 0;

  constructor(options: ScaledJobControllerOptions<S>) {
    this.#options = options;
    this.workload = options.workload;
    this.#state = createScaledJobState(options.spec);
  }

  get state(): ScaledJobState {
    return this.#state;
  }

  async tick(now: number): Promise<void> {
    this.#syncJobs();
    if (!scaledJobDue(this.#state, now).poll) return;
    const readings = await this.#options.readTriggers(this.#state.spec.triggers);
    this.#syncJobs();
    const jobs = [...this.#jobs.values()];
    const pendingJobs = jobs.filter((j) => this.#options.supervisor.get(j.pod)?.phase === 'Pending').length;
    const { state, decision } = scaledJobPoll(this.#state, { triggers: readings, runningJobs: jobs.length, pendingJobs }, now);
    this.#state = state;
    this.#options.log(decision);
    for (let i = 0; i < decision.jobsToCreate; i += 1) this.#createJob();
  }

  /** The Job controller: finished pods end their Job, or get a retry pod while under backoffLimit. */
  #syncJobs(): void {
    for (const job of this.#jobs.values()) {
      const pod = this.#options.supervisor.get(job.pod);
      if (pod === undefined || pod.phase === 'Pending' || pod.phase === 'Running') continue;
      if (pod.phase === 'Succeeded') {
        this.#jobs.delete(job.name);
        this.#succeededJobs += 1;
        continue;
      }
      job.failures += 1;
      // The base's podFailurePolicy fails the Job at once on exit 2 (configuration) and 6 (work deadline).
      const failJob = pod.exitCode !== null && pod.exitCode !== undefined && (this.#options.failJobExitCodes ?? [2]).includes(pod.exitCode);
      if (failJob || job.failures > this.#options.backoffLimit) {
        this.#jobs.delete(job.name);
        this.#failedJobs += 1;
      } else {
        job.pod = this.#options.supervisor.create(this.workload, this.#options.podSpec()).name;
        this.#started += 1;
      }
    }
  }

  #createJob(): void {
    this.#created += 1;
    const pod = this.#options.supervisor.create(this.workload, this.#options.podSpec());
    this.#started += 1;
    const name = `${this.workload}-job-${this.#created}`;
    this.#jobs.set(name, { name, pod: pod.name, failures: 0 });
  }

  status(): WorkloadStatus {
    const counts = this.#options.supervisor.counts(this.workload);
    return { workload: this.workload, desired: this.#jobs.size, running: counts.running, pending: counts.pending, started: this.#started };
  }

  jobCounts(): { created: number; unfinished: number; succeeded: number; failed: number } {
    this.#syncJobs();
    return { created: this.#created, unfinished: this.#jobs.size, succeeded: this.#succeededJobs, failed: this.#failedJobs };
  }

  /** Every Job finished and no process left. */
  get idle(): boolean {
    this.#syncJobs();
    return this.#jobs.size === 0 && this.#options.supervisor.counts(this.workload).unfinished === 0;
  }
}
