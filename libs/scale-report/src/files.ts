import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SurgeError } from '@surge/core';
import { renderHtml } from './html.ts';
import { REPORT_VERSION, type ScaleReport, type TimelineSample } from './types.ts';

export const REPORT_FILES = { html: 'report.html', json: 'report.json', csv: 'timeline.csv' } as const;

/** One row per sample: seconds since start, depth split, then replicas (and desired) per workload, then results. */
export function timelineCsv(report: Pick<ScaleReport, 'startedAt' | 'workloads' | 'timeline'>): string {
  const { workloads } = report;
  const header = [
    't_seconds',
    'time',
    'depth',
    'ready',
    'in_flight',
    'dead_lettered',
    ...workloads.map((w) => `${w}_running`),
    ...workloads.map((w) => `${w}_desired`),
    'results',
  ];
  const cell = (v: number | null | undefined) => (v === null || v === undefined ? '' : String(v));
  const rows = report.timeline.map((s: TimelineSample) =>
    [
      ((s.at - report.startedAt) / 1000).toFixed(3),
      new Date(s.at).toISOString(),
      cell(s.depth),
      cell(s.ready),
      cell(s.inFlight),
      cell(s.deadLettered),
      ...workloads.map((w) => cell(s.replicas[w])),
      ...workloads.map((w) => cell(s.desired?.[w])),
      cell(s.results),
    ].join(','),
  );
  return `${[header.join(','), ...rows].join('\n')}\n`;
}

/** Writes report.html, report.json and timeline.csv into `dir`; returns their paths. */
export async function writeReport(dir: string, report: ScaleReport): Promise<{ html: string; json: string; csv: string }> {
  await mkdir(dir, { recursive: true });
  const files = { html: path.join(dir, REPORT_FILES.html), json: path.join(dir, REPORT_FILES.json), csv: path.join(dir, REPORT_FILES.csv) };
  await Promise.all([
    writeFile(files.html, renderHtml(report)),
    writeFile(files.json, `${JSON.stringify(report, null, 2)}\n`),
    writeFile(files.csv, timelineCsv(report)),
  ]);
  return files;
}

export class ReportFileError extends SurgeError {
  constructor(message: string, cause?: unknown) {
    super('REPORT_FILE_INVALID', message, { retryable: false, cause });
  }
}

/** Reads a run folder's report.json back (for `report --from`). */
export async function readReport(dir: string): Promise<ScaleReport> {
  return readReportFile(path.join(dir, REPORT_FILES.json));
}

/**
 * Reads one report.json (a run folder is taken as its report.json). Every way it can be wrong is a
 * ReportFileError with one line naming the file: missing, not JSON, not a scale report, another version.
 */
export async function readReportFile(file: string): Promise<ScaleReport> {
  let target = file;
  const info = await stat(target).catch(() => undefined);
  if (info === undefined) throw new ReportFileError(`${target}: no such file (expected a run's ${REPORT_FILES.json})`);
  if (info.isDirectory()) {
    target = path.join(target, REPORT_FILES.json);
    if ((await stat(target).catch(() => undefined)) === undefined)
      throw new ReportFileError(`${target}: no such file (expected a run's ${REPORT_FILES.json})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(target, 'utf8'));
  } catch (error) {
    throw new ReportFileError(`${target}: not a readable scale report (${(error as Error).message})`, error);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new ReportFileError(`${target}: not a scale report (expected a JSON object)`);
  const report = parsed as Partial<ScaleReport> & { version?: unknown };
  if (
    !('version' in report) ||
    !Array.isArray(report.timeline) ||
    !Array.isArray(report.workloads) ||
    typeof report.startedAt !== 'number' ||
    typeof report.endedAt !== 'number'
  ) {
    throw new ReportFileError(
      `${target}: not a scale report (expected version, startedAt, endedAt, workloads and timeline: a ${REPORT_FILES.json} written by keda-local)`,
    );
  }
  if (report.version !== REPORT_VERSION) {
    throw new ReportFileError(
      `${target}: scale report version ${JSON.stringify(report.version)}; this build reads version ${REPORT_VERSION} (re-render it with the keda-local that wrote it)`,
    );
  }
  return report as ScaleReport;
}
