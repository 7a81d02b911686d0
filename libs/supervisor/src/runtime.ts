/**
 * What KEDA's controllers need from "the cluster": create a pod of a workload, list and count its pods,
 * delete one. Two implementations exist: `Supervisor` (real worker processes on wall-clock time, for
 * keda-local) and the simulator's modelled pods on a virtual clock. The controllers never see which one
 * they drive, so a scaling rule exists once.
 *
 * `S` is what a new pod is made from: a process spec for real processes, a modelled pod template for
 * the simulator.
 */
export type PodPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed';

export interface PodInfo {
  readonly name: string;
  readonly workload: string;
  readonly phase: PodPhase;
  /** Deletion requested (SIGTERM sent, or cancelled while Pending). */
  readonly terminating: boolean;
  readonly createdAt: number;
  readonly startedAt: number | undefined;
  readonly finishedAt: number | undefined;
  readonly exitCode: number | null | undefined;
  readonly signal: NodeJS.Signals | null | undefined;
  readonly pid: number | undefined;
  readonly node: string | undefined;
  readonly logFile: string | undefined;
  /** How the pod ended: `exited`, `deleted` (SIGTERM honoured), `killed` (SIGKILL after grace or injected), `cancelled` (never started). */
  readonly ending: 'exited' | 'deleted' | 'killed' | 'cancelled' | 'spawn-failed' | undefined;
}

export interface PodCounts {
  /** Created, not yet running (waiting for a node, an image, a start). */
  readonly pending: number;
  /** Running (terminating ones included). */
  readonly running: number;
  /** Deletion requested, not yet finished. */
  readonly terminating: number;
  /** pending + running. */
  readonly unfinished: number;
}

export interface PodRuntime<S> {
  /** Creates a pod of `workload` (Pending); the runtime starts it when it can. */
  create(workload: string, spec: S): PodInfo;
  /** Every pod not yet finished, optionally of one workload, oldest first. */
  active(workload?: string): PodInfo[];
  counts(workload: string): PodCounts;
  /** Any pod ever created, finished ones included. */
  get(name: string): PodInfo | undefined;
  /** What the kubelet does on delete: SIGTERM, the grace period, then SIGKILL; resolves when the pod has ended. */
  delete(name: string): Promise<PodInfo>;
}
