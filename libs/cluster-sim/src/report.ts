/**
 * A simulated run as the same report keda-local writes (report.json, report.html, timeline.csv,
 * decisions.jsonl), with the cluster section added. The source is `simulator` and every cluster
 * figure is flagged modelled, so a simulated report is never mistaken for a measured one — yet the
 * compare view reads both.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { accounting, keyFigures, writeReport, type ClusterSection, type ScaleReport, type TimelineSample } from '@surge/scale-report';
import { WAIT_REASONS, type ClusterSample, type SimulationResult } from './simulate.ts';

export interface SimulationReportInput {
  readonly result: SimulationResult;
  readonly workload: string;
  readonly queue: string;
  readonly profile: string;
  readonly settings: Readonly<Record<string, string | number | boolean>>;
  readonly pricePerNodeHour?: number;
}

function bottlenecks(samples: readonly ClusterSample[], t0: number): ClusterSection['bottlenecks'] {
  const out: { fromSeconds: number; toSeconds: number; waitingFor: string; pods: number }[] = [];
  for (const s of samples) {
    let best = 'nothing';
    let pods = 0;
    for (const reason of WAIT_REASONS) {
      if (s.waiting[reason] > pods) {
        best = reason;
        pods = s.waiting[reason];
      }
    }
    const seconds = (s.at - t0) / 1000;
    const last = out[out.length - 1];
    if (last !== undefined && last.waitingFor === best) {
      last.toSeconds = seconds;
      last.pods = Math.max(last.pods, pods);
    } else {
      if (last !== undefined) last.toSeconds = seconds;
      out.push({ fromSeconds: seconds, toSeconds: seconds, waitingFor: best, pods });
    }
  }
  // Stretches shorter than a second are noise between the phases that matter.
  return out.filter((b) => b.waitingFor !== 'nothing' && b.toSeconds - b.fromSeconds >= 1);
}

export function simulationReport(input: SimulationReportInput): ScaleReport {
  const { result, workload } = input;
  const t0 = result.startedAt;
  const timeline: TimelineSample[] = result.samples.map((s) => ({
    at: s.at,
    depth: s.depth,
    ready: s.ready,
    inFlight: s.inFlight,
    deadLettered: s.deadLettered,
    replicas: { [workload]: s.running },
    desired: { [workload]: s.desired },
    results: s.results,
  }));
  const cluster: ClusterSection = {
    profile: input.profile,
    modelled: true,
    nodeHours: Math.round(result.nodeHours * 1000) / 1000,
    cost:
      input.pricePerNodeHour === undefined
        ? null
        : { pricePerNodeHour: input.pricePerNodeHour, total: Math.round(result.nodeHours * input.pricePerNodeHour * 100) / 100 },
    peakNodes: result.peakNodes,
    podsEvicted: result.podsEvicted,
    bottlenecks: bottlenecks(result.samples, t0),
    timeline: result.samples.map((s) => ({
      at: s.at,
      nodesReady: s.nodesReady,
      nodesProvisioning: s.nodesProvisioning,
      nodesEvicted: s.nodesEvicted,
      pendingPods: s.pendingPods,
    })),
  };
  const notes = [
    `Simulated with profile ${input.profile}: every figure is modelled, not measured.`,
    `${result.jobsCreated} Jobs created for ${result.sent} messages (${result.podsCreated} pods, ${result.podsEvicted} evicted); ${result.events} events.`,
    ...(result.finished ? [] : ['The run hit the virtual time limit before everything was back to zero.']),
    ...result.violations.slice(0, 5).map((v) => `invariant broken: ${v}`),
  ];
  return {
    version: 1,
    title: `Simulated ScaledJob ${workload} on ${input.profile}`,
    source: 'simulator',
    startedAt: t0,
    endedAt: result.endedAt,
    workloads: [workload],
    workloadKinds: { [workload]: 'ScaledJob' },
    queue: input.queue,
    settings: { ...input.settings, profile: input.profile, modelled: true },
    figures: keyFigures(timeline, t0, result.endedAt, [workload]),
    latency: null,
    accounting: accounting({
      sent: result.sent,
      distinctResults: result.results,
      duplicates: result.duplicates,
      deadLettered: result.deadLettered,
    }),
    notes,
    timeline,
    cluster,
  };
}

/** Writes the four files into `dir`; returns the report. */
export async function writeSimulation(dir: string, input: SimulationReportInput): Promise<ScaleReport> {
  const report = simulationReport(input);
  await writeReport(dir, report);
  await writeFile(
    path.join(dir, 'decisions.jsonl'),
    input.result.decisions.map((d) => JSON.stringify(d)).join('\n') + (input.result.decisions.length > 0 ? '\n' : ''),
  );
  return report;
}
