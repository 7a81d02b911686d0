/**
 * The report's data model. One shape for both sources: a local keda-local run records it live,
 * a cluster run is read back from Prometheus over a time range. Times are epoch milliseconds.
 */

export const REPORT_VERSION = 1;

/** One point of the timeline. Null means "not known at that instant" (a failed read, a gap in Prometheus). */
export interface TimelineSample {
  readonly at: number;
  /** What KEDA's trigger counts: ready + in flight (locked / unacked / leased). */
  readonly depth: number | null;
  readonly ready: number | null;
  readonly inFlight: number | null;
  readonly deadLettered: number | null;
  /** Per workload: pods whose process runs (Deployment replicas / active Jobs). */
  readonly replicas: Readonly<Record<string, number | null>>;
  /** Per workload: what the autoscaler asked for (the Deployment's spec.replicas); absent when unknown. */
  readonly desired?: Readonly<Record<string, number | null>>;
  /** Results stored so far (local runs); absent when unknown. */
  readonly results?: number | null;
}

export interface Accounting {
  /** Messages the broker confirmed to the producer. */
  readonly sent: number;
  /** Distinct results stored. */
  readonly results: number;
  /** Second (or later) results for a message that already had one: written by a worker, kept out of the store. */
  readonly duplicates: number;
  readonly deadLettered: number;
  /** sent − results − deadLettered: must be 0. */
  readonly lost: number;
}

export interface LatencyFigures {
  readonly count: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly maxMs: number;
}

export interface PeakFigure {
  readonly workload: string;
  readonly replicas: number;
  /** Seconds from the start of the run. */
  readonly atSeconds: number;
}

export interface KeyFigures {
  readonly durationSeconds: number;
  /** First sample with a running worker, seconds from start; null when none ever ran. */
  readonly timeToFirstWorkerSeconds: number | null;
  /** First sample with a stored result (local runs: includes process start-up); null when unknown. */
  readonly timeToFirstResultSeconds: number | null;
  /** Peak of all workloads together, and per workload. */
  readonly peak: PeakFigure | null;
  readonly peaks: readonly PeakFigure[];
  /** Start of the final stretch of zero depth (after the queue had held messages). */
  readonly queueDrainedAtSeconds: number | null;
  /** Start of the final stretch with no worker running (after one had run). */
  readonly backToZeroAtSeconds: number | null;
  readonly maxDepth: number | null;
}

/** What scales a workload: a ScaledJob (its Jobs) or a ScaledObject (its Deployment). */
export type WorkloadKind = 'ScaledJob' | 'ScaledObject';

export interface ScaleReport {
  readonly version: typeof REPORT_VERSION;
  readonly title: string;
  readonly source: 'keda-local' | 'prometheus' | 'simulator';
  readonly startedAt: number;
  readonly endedAt: number;
  /** Workload names in display order. */
  readonly workloads: readonly string[];
  /** Per workload, what scales it; absent in reports written before it was recorded (optional: still version 1). */
  readonly workloadKinds?: Readonly<Record<string, WorkloadKind>>;
  /** The queue the run drained; absent in reports written before it was recorded. */
  readonly queue?: string;
  /** Run settings shown in the report (backend, mode, count, polling, cooldown, …). Never secrets. */
  readonly settings: Readonly<Record<string, string | number | boolean>>;
  readonly figures: KeyFigures;
  readonly latency: LatencyFigures | null;
  readonly accounting: Accounting | null;
  /** Short lines worth reading next to the figure (e.g. the first scale-out decisions). */
  readonly notes: readonly string[];
  readonly timeline: readonly TimelineSample[];
  /** What a simulated cluster adds (nodes, pending pods, bottlenecks, node-hours); absent for measured runs. */
  readonly cluster?: ClusterSection;
}

/** A simulator run's cluster figures. Every number here is modelled, not measured. */
export interface ClusterSection {
  readonly profile: string;
  readonly modelled: true;
  readonly nodeHours: number;
  /** Present when a price per node-hour was given. */
  readonly cost: { readonly pricePerNodeHour: number; readonly total: number } | null;
  readonly peakNodes: number;
  readonly podsEvicted: number;
  /** Stretches of the run by what most waiting pods waited for (node, image, quota, rate-limit, broker, start). */
  readonly bottlenecks: readonly {
    readonly fromSeconds: number;
    readonly toSeconds: number;
    readonly waitingFor: string;
    readonly pods: number;
  }[];
  readonly timeline: readonly {
    readonly at: number;
    readonly nodesReady: number;
    readonly nodesProvisioning: number;
    readonly nodesEvicted: number;
    readonly pendingPods: number;
  }[];
}
