import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SurgeError } from '@surge/core';
import { renderHtml } from './html.ts';
import { REPORT_VERSION, type ScaleReport, type TimelineSample } from './types.ts';

export const REPORT_FILES = { html: 'report.html', json: 'report.json', csv: 'timeline.csv' } as const;

/** One row per sample: seconds since start, depth split, then replicas (and desired) per workload, then results. */
export function timelineCsv(report: Pick<ScaleReport, 'startedAt' | 'workloads' | 'timeline'>): string {
  const { workloads } = report;
  const header = ['t_seconds', 'time', 'depth', 'ready', 'in_flight', 'dead_lettered', ...workloads.map((w) => `${w}_running`), ...workloads.map((w) => `${w}_desired`), 'results'];
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
  const file = path.join(dir, REPORT_FILES.json);
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new ReportFileError(`${file}: not a readable report (${(error as Error).message})`, error);
  }
  const report = parsed as Partial<ScaleReport>;
  if (report.version !== REPORT_VERSION || !Array.isArray(report.timeline) || !Array.isArray(report.workloads) || typeof report.startedAt !== 'number') {
    throw new ReportFileError(`${file}: not a version ${REPORT_VERSION} scale report`);
  }
  return report as ScaleReport;
}
