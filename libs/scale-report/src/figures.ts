import {
  REPORT_VERSION,
  type Accounting,
  type KeyFigures,
  type LatencyFigures,
  type PeakFigure,
  type ScaleReport,
  type TimelineSample,
} from './types.ts';

/** Nearest-rank percentile (p in 0..100) of unsorted values; NaN for none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}

export function latencyFigures(latenciesMs: readonly number[]): LatencyFigures | null {
  if (latenciesMs.length === 0) return null;
  return {
    count: latenciesMs.length,
    p50Ms: percentile(latenciesMs, 50),
    p95Ms: percentile(latenciesMs, 95),
    maxMs: latenciesMs.reduce((max, v) => Math.max(max, v), 0),
  };
}

export function accounting(input: { sent: number; distinctResults: number; duplicates: number; deadLettered: number }): Accounting {
  return {
    sent: input.sent,
    results: input.distinctResults,
    duplicates: input.duplicates,
    deadLettered: input.deadLettered,
    lost: input.sent - input.distinctResults - input.deadLettered,
  };
}

export interface RunAccountingInput {
  /** Messages the broker confirmed to the producer. */
  readonly sent: number;
  /** Message ids with a stored result (repeats are counted once), or the count of distinct results. */
  readonly results: Iterable<string> | number;
  /** Result writes that found a result already stored (redeliveries), from the processing outcomes. */
  readonly duplicates: number;
  /** This load's dead-lettered message ids, or only their count when the dead-letter queue cannot be read. */
  readonly deadLettered: Iterable<string> | number;
}

export interface RunAccounting {
  readonly accounting: Accounting;
  /** Dead letters whose message also has a stored result: counted as results, not dead letters. */
  readonly deadLetteredAfterResult: number;
  /** Nothing lost. */
  readonly ok: boolean;
}

/**
 * The end-of-run arithmetic keda-local and the simulator share. A message can be dead-lettered after
 * its result was stored (its ack was lost and it was redelivered past maxDeliveries): it is processed,
 * not lost, and must not be subtracted twice, so such a dead letter counts only as a result.
 */
export function accountRun(input: RunAccountingInput): RunAccounting {
  const distinct = typeof input.results === 'number' ? undefined : new Set(input.results);
  const distinctResults = distinct === undefined ? (input.results as number) : distinct.size;
  let deadLettered: number;
  let deadLetteredAfterResult = 0;
  if (typeof input.deadLettered === 'number') deadLettered = input.deadLettered;
  else {
    const ids = new Set(input.deadLettered);
    if (distinct !== undefined) for (const id of ids) if (distinct.has(id)) deadLetteredAfterResult += 1;
    deadLettered = ids.size - deadLetteredAfterResult;
  }
  const result = accounting({ sent: input.sent, distinctResults, duplicates: input.duplicates, deadLettered });
  return { accounting: result, deadLetteredAfterResult, ok: result.lost === 0 };
}

export function totalReplicas(sample: TimelineSample): number | null {
  const values = Object.values(sample.replicas);
  if (values.length === 0 || values.every((v) => v === null)) return null;
  return values.reduce<number>((sum, v) => sum + (v ?? 0), 0);
}

const seconds = (from: number, to: number): number => Math.round((to - from) / 100) / 10;

/**
 * Figures read off the timeline, the same way for a local run and a Prometheus range: the precision
 * is the sample interval.
 */
export function keyFigures(
  timeline: readonly TimelineSample[],
  startedAt: number,
  endedAt: number,
  workloads: readonly string[],
): KeyFigures {
  const firstWorker = timeline.find((s) => (totalReplicas(s) ?? 0) > 0);
  const firstResult = timeline.find((s) => (s.results ?? 0) > 0);

  let peak: PeakFigure | null = null;
  const peaks = new Map<string, PeakFigure>();
  let maxDepth: number | null = null;
  for (const sample of timeline) {
    const total = totalReplicas(sample);
    if (total !== null && total > 0 && (peak === null || total > peak.replicas))
      peak = { workload: 'all', replicas: total, atSeconds: seconds(startedAt, sample.at) };
    for (const workload of workloads) {
      const value = sample.replicas[workload];
      const current = peaks.get(workload);
      if (value !== null && value !== undefined && value > 0 && (current === undefined || value > current.replicas)) {
        peaks.set(workload, { workload, replicas: value, atSeconds: seconds(startedAt, sample.at) });
      }
    }
    if (sample.depth !== null) maxDepth = Math.max(maxDepth ?? 0, sample.depth);
  }

  // The final stretch: the sample after the last one that still had depth / a running worker.
  const finalZero = (has: (s: TimelineSample) => boolean | null): number | null => {
    let lastBusy = -1;
    timeline.forEach((s, i) => {
      if (has(s) === true) lastBusy = i;
    });
    if (lastBusy < 0) return null;
    const after = timeline.slice(lastBusy + 1).find((s) => has(s) === false);
    return after === undefined ? null : seconds(startedAt, after.at);
  };

  return {
    durationSeconds: seconds(startedAt, endedAt),
    timeToFirstWorkerSeconds: firstWorker === undefined ? null : seconds(startedAt, firstWorker.at),
    timeToFirstResultSeconds: firstResult === undefined ? null : seconds(startedAt, firstResult.at),
    peak,
    peaks: workloads.flatMap((w) => {
      const p = peaks.get(w);
      return p === undefined ? [] : [p];
    }),
    queueDrainedAtSeconds: finalZero((s) => (s.depth === null ? null : s.depth > 0)),
    backToZeroAtSeconds: finalZero((s) => {
      const total = totalReplicas(s);
      return total === null ? null : total > 0;
    }),
    maxDepth,
  };
}

export interface BuildReportInput {
  readonly title: string;
  readonly source: ScaleReport['source'];
  readonly startedAt: number;
  readonly endedAt: number;
  readonly workloads: readonly string[];
  readonly workloadKinds?: ScaleReport['workloadKinds'];
  readonly queue?: string;
  readonly settings?: ScaleReport['settings'];
  readonly timeline: readonly TimelineSample[];
  readonly latenciesMs?: readonly number[];
  readonly accounting?: Accounting | null;
  readonly notes?: readonly string[];
}

export function buildReport(input: BuildReportInput): ScaleReport {
  return {
    version: REPORT_VERSION,
    title: input.title,
    source: input.source,
    startedAt: input.startedAt,
    endedAt: input.endedAt,
    workloads: input.workloads,
    ...(input.workloadKinds === undefined ? {} : { workloadKinds: input.workloadKinds }),
    ...(input.queue === undefined ? {} : { queue: input.queue }),
    settings: input.settings ?? {},
    figures: keyFigures(input.timeline, input.startedAt, input.endedAt, input.workloads),
    latency: latencyFigures(input.latenciesMs ?? []),
    accounting: input.accounting ?? null,
    notes: input.notes ?? [],
    timeline: input.timeline,
  };
}
