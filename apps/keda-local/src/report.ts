/** The `report` command: re-render a run folder, draw a cluster run from Prometheus, or compare runs. */
import {
  buildReport,
  compareReports,
  prometheusTimeline,
  readReport,
  readReportFile,
  writeComparison,
  writeReport,
  type ScaleComparison,
  type ScaleReport,
  type WorkloadKind,
} from '@surge/scale-report';
import type { ReportCompareConfig, ReportFromPrometheusConfig, ReportFromRunConfig } from './config.ts';

export async function reportFromRun(config: ReportFromRunConfig): Promise<{ report: ScaleReport; html: string }> {
  const stored = await readReport(config.from);
  // Figures are recomputed, so a report written by an older keda-local gets today's rendering.
  const report = { ...buildReport({ ...stored, notes: stored.notes, settings: stored.settings }), latency: stored.latency };
  const files = await writeReport(config.out, report);
  return { report, html: files.html };
}

export async function reportFromPrometheus(
  config: ReportFromPrometheusConfig,
  fetchImpl?: typeof fetch,
): Promise<{ report: ScaleReport; html: string }> {
  const { timeline, workloads, queries } = await prometheusTimeline({
    url: config.prometheusUrl,
    start: config.start,
    end: config.end,
    ...(config.stepSeconds === undefined ? {} : { stepSeconds: config.stepSeconds }),
    namespace: config.namespace,
    queue: config.queue,
    deployment: config.deployment,
    scaledJob: config.scaledJob,
    ...(config.bearerToken === undefined ? {} : { headers: { authorization: `Bearer ${config.bearerToken}` } }),
    ...(fetchImpl === undefined ? {} : { fetch: fetchImpl }),
  });
  const report = buildReport({
    title: `Surge on a cluster — queue ${config.queue}, namespace ${config.namespace}`,
    source: 'prometheus',
    startedAt: config.start,
    endedAt: config.end,
    workloads,
    workloadKinds: Object.fromEntries(
      workloads.map((w): [string, WorkloadKind] => [w, w === config.scaledJob ? 'ScaledJob' : 'ScaledObject']),
    ),
    queue: config.queue,
    timeline,
    settings: {
      namespace: config.namespace,
      queue: config.queue,
      ...Object.fromEntries(Object.entries(queries.workloads).map(([w, q]) => [`${w} query`, q])),
      'depth query': `${queries.ready} + ${queries.inFlight}`,
    },
    notes: [
      'Drawn from Prometheus: no per-message accounting or latency (those need the result store; run the demo or read the results folder).',
    ],
  });
  const files = await writeReport(config.out, report);
  return { report, html: files.html };
}

/** Two or more saved runs side by side: compare.html and compare.json in `config.out`. */
export async function reportCompare(config: ReportCompareConfig): Promise<{ comparison: ScaleComparison; html: string; json: string }> {
  const reports = await Promise.all(config.files.map((file) => readReportFile(file)));
  const comparison = compareReports(
    reports.map((report, i) => ({
      report,
      file: config.files[i] as string,
      ...(config.labels[i] === undefined ? {} : { label: config.labels[i] }),
    })),
  );
  const files = await writeComparison(config.out, comparison);
  return { comparison, ...files };
}
