/**
 * Two or more runs side by side (seed 001: a ScaledObject and a ScaledJob, each on its own queue):
 * depth and replicas on a common time axis — seconds from each run's own start, one colour per run —
 * and the timings and accounting in one table with each run's difference and ratio to the first.
 * `compare.json` holds the same numbers; `compare.html` is self-contained like report.html.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { keyFigures, totalReplicas } from './figures.ts';
import { COLORS, STYLE, chart, escapeHtml, fmtMs, fmtSeconds, type Series } from './html.ts';
import type { Accounting, KeyFigures, LatencyFigures, ScaleReport, WorkloadKind } from './types.ts';

export const COMPARISON_VERSION = 1;
export const COMPARE_FILES = { html: 'compare.html', json: 'compare.json' } as const;

export interface ComparedPoint {
  /** Seconds from this run's start (the common axis). */
  readonly t: number;
  readonly depth: number | null;
  /** Running replicas of all the run's workloads together. */
  readonly replicas: number | null;
  readonly byWorkload: Readonly<Record<string, number | null>>;
}

export interface ComparedRun {
  /** `A`, `B`, … in input order: the column headers of the table. */
  readonly key: string;
  readonly label: string;
  readonly file: string;
  readonly title: string;
  readonly source: ScaleReport['source'];
  readonly startedAt: number;
  readonly endedAt: number;
  readonly queue: string | null;
  readonly workloads: readonly { readonly name: string; readonly kind: WorkloadKind | null }[];
  /** Recomputed from the timeline with today's rules, as `report --from` does. */
  readonly figures: KeyFigures;
  readonly latency: LatencyFigures | null;
  readonly accounting: Accounting | null;
  readonly timeline: readonly ComparedPoint[];
}

export type RowUnit = 'seconds' | 'milliseconds' | 'pods' | 'messages';

export interface ComparisonRow {
  readonly group: 'timings' | 'accounting';
  readonly key: string;
  readonly label: string;
  readonly unit: RowUnit;
  /** One per run, in run order; null when that run does not know it. */
  readonly values: readonly (number | null)[];
  /**
   * For the second and later runs, against the first: `difference` = run − first, `ratio` = run / first
   * (null when either value is unknown, or the first is 0 for a ratio).
   */
  readonly versusFirst: readonly { readonly key: string; readonly difference: number | null; readonly ratio: number | null }[];
}

export interface ScaleComparison {
  readonly version: typeof COMPARISON_VERSION;
  readonly title: string;
  readonly runs: readonly ComparedRun[];
  readonly rows: readonly ComparisonRow[];
}

export interface CompareInput {
  readonly report: ScaleReport;
  /** Where it was read from (shown and kept in compare.json). */
  readonly file: string;
  /** Overrides the label derived from the workloads and queue. */
  readonly label?: string;
}

/**
 * What scales each workload. New reports record it; for older ones it is read off what they do
 * record: keda-local's settings (`mode`, the `ScaledJob` line) or the Prometheus query of each workload.
 */
export function workloadKindOf(report: ScaleReport, workload: string): WorkloadKind | null {
  const recorded = report.workloadKinds?.[workload];
  if (recorded !== undefined) return recorded;
  const query = report.settings[`${workload} query`];
  if (typeof query === 'string') {
    if (query.includes('kube_job_status_active')) return 'ScaledJob';
    if (query.includes('kube_deployment_status_replicas')) return 'ScaledObject';
  }
  const scaledJob = report.settings['ScaledJob'];
  if (typeof scaledJob === 'string' && scaledJob.startsWith(`${workload}:`)) return 'ScaledJob';
  if (report.settings['mode'] === 'job') return 'ScaledJob';
  if (report.settings['mode'] === 'deployment') return 'ScaledObject';
  return null;
}

export function queueOf(report: ScaleReport): string | null {
  if (report.queue !== undefined) return report.queue;
  const fromSettings = report.settings['queue'];
  return typeof fromSettings === 'string' ? fromSettings : null;
}

/** `ScaledJob/worker-job · queue surge-job`: what ran, on which queue. */
export function runLabel(report: ScaleReport): string {
  const workloads = report.workloads.map((w) => {
    const kind = workloadKindOf(report, w);
    return kind === null ? w : `${kind}/${w}`;
  });
  const queue = queueOf(report);
  return `${workloads.join(' + ') || 'no workload'}${queue === null ? '' : ` · queue ${queue}`}`;
}

const runKey = (index: number): string => (index < 26 ? String.fromCharCode(65 + index) : `R${index + 1}`);
const round = (value: number, digits = 3): number => Math.round(value * 10 ** digits) / 10 ** digits;

function row(
  group: ComparisonRow['group'],
  key: string,
  label: string,
  unit: RowUnit,
  values: (number | null)[],
  keys: readonly string[],
): ComparisonRow {
  const first = values[0] ?? null;
  return {
    group,
    key,
    label,
    unit,
    values,
    versusFirst: values.slice(1).map((value, i) => ({
      key: keys[i + 1] as string,
      difference: value === null || first === null ? null : round(value - first),
      ratio: value === null || first === null || first === 0 ? null : round(value / first),
    })),
  };
}

export function compareReports(inputs: readonly CompareInput[]): ScaleComparison {
  if (inputs.length < 2) throw new Error('a comparison needs two or more runs');
  const labels = inputs.map((input) => input.label ?? runLabel(input.report));
  // Two runs of the same workload on the same queue would read alike: number them.
  const deduplicated = labels.map((label, i) => (labels.indexOf(label) === labels.lastIndexOf(label) ? label : `${label} (${runKey(i)})`));
  const runs: ComparedRun[] = inputs.map(({ report, file }, i) => ({
    key: runKey(i),
    label: deduplicated[i] as string,
    file,
    title: report.title,
    source: report.source,
    startedAt: report.startedAt,
    endedAt: report.endedAt,
    queue: queueOf(report),
    workloads: report.workloads.map((name) => ({ name, kind: workloadKindOf(report, name) })),
    figures: keyFigures(report.timeline, report.startedAt, report.endedAt, report.workloads),
    latency: report.latency,
    accounting: report.accounting,
    timeline: report.timeline.map((s) => ({
      t: round((s.at - report.startedAt) / 1000),
      depth: s.depth,
      replicas: totalReplicas(s),
      byWorkload: Object.fromEntries(report.workloads.map((w) => [w, s.replicas[w] ?? null])),
    })),
  }));
  const keys = runs.map((r) => r.key);
  const pick = (f: (run: ComparedRun) => number | null | undefined) => runs.map((r) => f(r) ?? null);
  const rows: ComparisonRow[] = [
    row(
      'timings',
      'timeToFirstWorkerSeconds',
      'time to first worker',
      'seconds',
      pick((r) => r.figures.timeToFirstWorkerSeconds),
      keys,
    ),
    row(
      'timings',
      'timeToFirstResultSeconds',
      'time to first result',
      'seconds',
      pick((r) => r.figures.timeToFirstResultSeconds),
      keys,
    ),
    row(
      'timings',
      'peakReplicas',
      'peak replicas',
      'pods',
      pick((r) => r.figures.peak?.replicas),
      keys,
    ),
    row(
      'timings',
      'peakAtSeconds',
      'peak reached at',
      'seconds',
      pick((r) => r.figures.peak?.atSeconds),
      keys,
    ),
    row(
      'timings',
      'queueDrainedAtSeconds',
      'queue drained at',
      'seconds',
      pick((r) => r.figures.queueDrainedAtSeconds),
      keys,
    ),
    row(
      'timings',
      'backToZeroAtSeconds',
      'back to zero at',
      'seconds',
      pick((r) => r.figures.backToZeroAtSeconds),
      keys,
    ),
    row(
      'timings',
      'maxDepth',
      'max queue depth',
      'messages',
      pick((r) => r.figures.maxDepth),
      keys,
    ),
    row(
      'timings',
      'latencyP50Ms',
      'latency p50 (enqueue → result)',
      'milliseconds',
      pick((r) => r.latency?.p50Ms),
      keys,
    ),
    row(
      'timings',
      'latencyP95Ms',
      'latency p95 (enqueue → result)',
      'milliseconds',
      pick((r) => r.latency?.p95Ms),
      keys,
    ),
    row(
      'timings',
      'durationSeconds',
      'run length',
      'seconds',
      pick((r) => r.figures.durationSeconds),
      keys,
    ),
    row(
      'accounting',
      'sent',
      'sent (broker-confirmed)',
      'messages',
      pick((r) => r.accounting?.sent),
      keys,
    ),
    row(
      'accounting',
      'results',
      'distinct results',
      'messages',
      pick((r) => r.accounting?.results),
      keys,
    ),
    row(
      'accounting',
      'duplicates',
      'duplicates',
      'messages',
      pick((r) => r.accounting?.duplicates),
      keys,
    ),
    row(
      'accounting',
      'deadLettered',
      'dead-lettered',
      'messages',
      pick((r) => r.accounting?.deadLettered),
      keys,
    ),
    row(
      'accounting',
      'lost',
      'lost = sent − results − dead-lettered',
      'messages',
      pick((r) => r.accounting?.lost),
      keys,
    ),
  ];
  return { version: COMPARISON_VERSION, title: `Surge scale comparison — ${runs.map((r) => r.label).join(' vs ')}`, runs, rows };
}

function fmtValue(value: number | null, unit: RowUnit): string {
  if (value === null) return '—';
  if (unit === 'seconds') return fmtSeconds(value);
  if (unit === 'milliseconds') return fmtMs(value);
  return String(value);
}

function fmtDifference(value: number | null, unit: RowUnit): string {
  if (value === null) return '—';
  const sign = value > 0 ? '+' : value < 0 ? '−' : '±';
  const magnitude = Math.abs(value);
  if (unit === 'seconds') return `${sign}${magnitude < 120 ? `${magnitude.toFixed(1)} s` : fmtSeconds(magnitude)}`;
  if (unit === 'milliseconds') return `${sign}${fmtMs(magnitude)}`;
  return `${sign}${magnitude}`;
}

const fmtRatio = (value: number | null): string => (value === null ? '—' : `×${value.toFixed(2)}`);

export function renderCompareHtml(comparison: ScaleComparison): string {
  const { runs, rows } = comparison;
  const color = (i: number) => COLORS[i % COLORS.length] as string;
  const duration = Math.max(...runs.map((r) => r.figures.durationSeconds));
  const depthSeries: Series[] = runs.map((r, i) => ({
    label: `${r.key}: ${r.label}`,
    color: color(i),
    points: r.timeline.map((p) => [p.t, p.depth] as const),
    step: false,
  }));
  const replicaSeries: Series[] = runs.map((r, i) => ({
    label: `${r.key}: ${r.label}`,
    color: color(i),
    points: r.timeline.map((p) => [p.t, p.replicas] as const),
    step: true,
  }));
  runs.forEach((r, i) => {
    // A run with several workloads: its total above, each workload dashed in the same colour.
    if (r.workloads.length > 1) {
      for (const w of r.workloads)
        replicaSeries.push({
          label: `${r.key}: ${w.name}`,
          color: color(i),
          points: r.timeline.map((p) => [p.t, p.byWorkload[w.name] ?? null] as const),
          step: true,
          dashed: true,
        });
    }
  });

  const others = runs.slice(1);
  const head = `<tr><th></th>${runs.map((r, i) => `<th class="num"><span class="swatch" style="background:${color(i)}"></span>${escapeHtml(r.key)}</th>`).join('')}${others
    .map((r) => `<th class="num">${escapeHtml(r.key)} − A</th><th class="num">${escapeHtml(r.key)} / A</th>`)
    .join('')}</tr>`;
  const body = (group: ComparisonRow['group']) =>
    rows
      .filter((x) => x.group === group)
      .map(
        (x) =>
          `<tr><th>${escapeHtml(x.label)}</th>${x.values.map((v) => `<td>${escapeHtml(fmtValue(v, x.unit))}</td>`).join('')}${x.versusFirst
            .map((d) => `<td>${escapeHtml(fmtDifference(d.difference, x.unit))}</td><td>${escapeHtml(fmtRatio(d.ratio))}</td>`)
            .join('')}</tr>`,
      )
      .join('');
  const legendRuns = runs
    .map(
      (r, i) =>
        `<tr><th><span class="swatch" style="background:${color(i)}"></span>${escapeHtml(r.key)}</th><td class="left">${escapeHtml(r.label)}</td><td class="left">${escapeHtml(r.source)} · ${escapeHtml(new Date(r.startedAt).toISOString())} · ${escapeHtml(fmtSeconds(r.figures.durationSeconds))}</td><td class="left muted">${escapeHtml(r.file)}</td></tr>`,
    )
    .join('');
  const noAccounting = runs.filter((r) => r.accounting === null).map((r) => r.key);

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(comparison.title)}</title>
<style>${STYLE}.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px;vertical-align:baseline}
th.num{text-align:right;padding:3px 0 3px 12px;font-weight:600}td{padding:3px 0 3px 12px}td.left{text-align:left}
</style></head><body>
<h1>${escapeHtml(comparison.title)}</h1>
<div class="muted">${runs.length} runs on a common time axis: seconds from each run's own start.</div>
<h2>Runs</h2><table><tbody>${legendRuns}</tbody></table>
${chart('Queue depth', depthSeries, duration, [], 'messages')}
${chart('Replicas running', replicaSeries, duration, [], 'pods')}
<h2>Timings</h2><table><thead>${head}</thead><tbody>${body('timings')}</tbody></table>
<h2>Accounting</h2><table><thead>${head}</thead><tbody>${body('accounting')}</tbody></table>
${noAccounting.length > 0 ? `<p class="muted">No accounting or latency for ${escapeHtml(noAccounting.join(', '))}: drawn from metrics only (Prometheus).</p>` : ''}
<p class="muted">Differences and ratios are against run A. Times are read off each run's timeline; their precision is its sample interval.</p>
</body></html>
`;
}

/** Writes compare.html and compare.json into `dir`; returns their paths. */
export async function writeComparison(dir: string, comparison: ScaleComparison): Promise<{ html: string; json: string }> {
  await mkdir(dir, { recursive: true });
  const files = { html: path.join(dir, COMPARE_FILES.html), json: path.join(dir, COMPARE_FILES.json) };
  await Promise.all([
    writeFile(files.html, renderCompareHtml(comparison)),
    writeFile(files.json, `${JSON.stringify(comparison, null, 2)}\n`),
  ]);
  return files;
}
