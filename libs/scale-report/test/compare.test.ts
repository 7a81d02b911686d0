/**
 * The compare view over two runs recorded through the real recorder, figures and files code: a
 * ScaledJob run and a ScaledObject run, each on its own queue, written as report.json and read back.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  TimelineRecorder,
  accounting,
  buildReport,
  compareReports,
  readReportFile,
  runLabel,
  workloadKindOf,
  writeComparison,
  writeReport,
  type ScaleComparison,
  type ScaleReport,
} from '../src/index.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'surge-compare-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A run as keda-local records it: one sample a second, depth falling as workers drain `sent` messages. */
function record(workload: string, shape: { startAt: number; replicas: number[]; depth: number[] }): TimelineRecorder {
  const recorder = new TimelineRecorder();
  shape.replicas.forEach((replicas, sec) => {
    const depth = shape.depth[sec] as number;
    recorder.record({
      at: shape.startAt + sec * 1000,
      depth,
      ready: Math.max(0, depth - replicas),
      inFlight: Math.min(depth, replicas),
      deadLettered: 0,
      replicas: { [workload]: replicas },
      results: 0,
    });
  });
  return recorder;
}

const T_JOB = Date.parse('2026-03-01T10:00:00Z');
const T_SO = Date.parse('2026-03-01T11:30:00Z');
const jobRun = buildReport({
  title: 'job run',
  source: 'keda-local',
  startedAt: T_JOB,
  endedAt: T_JOB + 9000,
  workloads: ['worker-job'],
  workloadKinds: { 'worker-job': 'ScaledJob' },
  queue: 'surge-job',
  timeline: record('worker-job', { startAt: T_JOB, replicas: [0, 0, 4, 10, 10, 6, 0, 0, 0], depth: [0, 1000, 800, 500, 200, 20, 0, 0, 0] })
    .samples,
  latenciesMs: [100, 200, 300, 400],
  accounting: accounting({ sent: 1000, distinctResults: 1000, duplicates: 2, deadLettered: 0 }),
  settings: { mode: 'job' },
});
const soRun = buildReport({
  title: 'deployment run',
  source: 'keda-local',
  startedAt: T_SO,
  endedAt: T_SO + 14_000,
  workloads: ['worker-deployment'],
  workloadKinds: { 'worker-deployment': 'ScaledObject' },
  queue: 'surge-so',
  timeline: record('worker-deployment', {
    startAt: T_SO,
    replicas: [0, 0, 1, 1, 4, 5, 5, 5, 5, 3, 2, 0, 0, 0],
    depth: [0, 1000, 990, 900, 700, 500, 300, 120, 10, 0, 0, 0, 0, 0],
  }).samples,
  latenciesMs: [500, 900, 1200, 2000],
  accounting: accounting({ sent: 1000, distinctResults: 998, duplicates: 0, deadLettered: 2 }),
  settings: { mode: 'deployment' },
});

async function saved(name: string, report: ScaleReport): Promise<string> {
  return (await writeReport(path.join(dir, name), report)).json;
}

describe('compareReports over two saved runs', () => {
  let comparison: ScaleComparison;
  let files: { html: string; json: string };

  it('reads both report.json files back and writes compare.html + compare.json', async () => {
    const a = await saved('job', jobRun);
    const b = await saved('so', soRun);
    comparison = compareReports([
      { report: await readReportFile(a), file: a },
      // a run folder is taken as its report.json
      { report: await readReportFile(path.dirname(b)), file: b },
    ]);
    files = await writeComparison(path.join(dir, 'out'), comparison);
    expect(JSON.parse(readFileSync(files.json, 'utf8'))).toEqual(JSON.parse(JSON.stringify(comparison)));
  });

  it('labels each run by workload kind/name and queue', () => {
    expect(comparison.runs.map((r) => [r.key, r.label])).toEqual([
      ['A', 'ScaledJob/worker-job · queue surge-job'],
      ['B', 'ScaledObject/worker-deployment · queue surge-so'],
    ]);
    expect(comparison.title).toBe(
      'Surge scale comparison — ScaledJob/worker-job · queue surge-job vs ScaledObject/worker-deployment · queue surge-so',
    );
  });

  it("each run's figures, latency and accounting are its own report's", () => {
    expect(comparison.runs[0]).toMatchObject({ figures: jobRun.figures, latency: jobRun.latency, accounting: jobRun.accounting });
    expect(comparison.runs[1]).toMatchObject({ figures: soRun.figures, latency: soRun.latency, accounting: soRun.accounting });
    const values = (key: string) => comparison.rows.find((r) => r.key === key)?.values;
    expect(values('timeToFirstWorkerSeconds')).toEqual([jobRun.figures.timeToFirstWorkerSeconds, soRun.figures.timeToFirstWorkerSeconds]);
    expect(values('peakReplicas')).toEqual([10, 5]);
    expect(values('queueDrainedAtSeconds')).toEqual([jobRun.figures.queueDrainedAtSeconds, soRun.figures.queueDrainedAtSeconds]);
    expect(values('backToZeroAtSeconds')).toEqual([jobRun.figures.backToZeroAtSeconds, soRun.figures.backToZeroAtSeconds]);
    expect(values('latencyP50Ms')).toEqual([jobRun.latency!.p50Ms, soRun.latency!.p50Ms]);
    expect(values('latencyP95Ms')).toEqual([jobRun.latency!.p95Ms, soRun.latency!.p95Ms]);
    expect(values('lost')).toEqual([0, 0]);
    expect(values('deadLettered')).toEqual([0, 2]);
  });

  it('differences and ratios are against the first run; unknown or zero baselines give null', () => {
    const peak = comparison.rows.find((r) => r.key === 'peakReplicas')!;
    expect(peak.versusFirst).toEqual([{ key: 'B', difference: -5, ratio: 0.5 }]);
    const drained = comparison.rows.find((r) => r.key === 'queueDrainedAtSeconds')!;
    const [a, b] = drained.values as [number, number];
    expect(drained.versusFirst[0]).toEqual({
      key: 'B',
      difference: Math.round((b - a) * 1000) / 1000,
      ratio: Math.round((b / a) * 1000) / 1000,
    });
    expect(comparison.rows.find((r) => r.key === 'deadLettered')!.versusFirst[0]).toEqual({ key: 'B', difference: 2, ratio: null });
    expect(comparison.rows.find((r) => r.key === 'timeToFirstResultSeconds')!.versusFirst[0]).toEqual({
      key: 'B',
      difference: null,
      ratio: null,
    });
  });

  it("puts both runs on one time axis from each run's own start", () => {
    const [job, so] = comparison.runs;
    expect(job!.timeline[0]).toMatchObject({ t: 0, depth: 0, replicas: 0 });
    expect(so!.timeline[0]).toMatchObject({ t: 0, depth: 0, replicas: 0 });
    expect(job!.timeline.find((p) => p.replicas === 10)?.t).toBe(3);
    expect(so!.timeline.at(-1)?.t).toBe(13);
  });

  it('the HTML is self-contained and draws both runs in both charts', () => {
    const html = readFileSync(files.html, 'utf8');
    expect(html).toMatch(/^<!doctype html>/);
    expect(html.match(/<svg viewBox/g)).toHaveLength(2);
    expect(html).not.toMatch(/<script|<link|<img|@import|url\(|https?:\/\//i);
    for (const label of ['A: ScaledJob/worker-job · queue surge-job', 'B: ScaledObject/worker-deployment · queue surge-so']) {
      // once per chart legend
      expect(html.split(label).length - 1).toBe(2);
    }
    // one polyline per run per chart, in the run's colour
    expect(html.match(/<polyline [^>]*stroke="#2563eb"/g)?.length).toBeGreaterThanOrEqual(2);
    expect(html.match(/<polyline [^>]*stroke="#d97706"/g)?.length).toBeGreaterThanOrEqual(2);
    expect(html).toContain('<th class="num">B − A</th><th class="num">B / A</th>');
    expect(html).toContain('<tr><th>peak replicas</th><td>10</td><td>5</td><td>−5</td><td>×0.50</td></tr>');
  });

  it('explicit labels win; identical labels are told apart', () => {
    const labelled = compareReports([
      { report: jobRun, file: 'a', label: 'ScaledJob' },
      { report: soRun, file: 'b', label: 'ScaledObject' },
    ]);
    expect(labelled.runs.map((r) => r.label)).toEqual(['ScaledJob', 'ScaledObject']);
    const same = compareReports([
      { report: jobRun, file: 'a' },
      { report: jobRun, file: 'b' },
      { report: soRun, file: 'c' },
    ]);
    expect(same.runs.map((r) => r.label)).toEqual([
      'ScaledJob/worker-job · queue surge-job (A)',
      'ScaledJob/worker-job · queue surge-job (B)',
      'ScaledObject/worker-deployment · queue surge-so',
    ]);
    expect(same.rows[0]!.versusFirst.map((d) => d.key)).toEqual(['B', 'C']);
    expect(() => compareReports([{ report: jobRun, file: 'a' }])).toThrow(/two or more/);
  });

  it('older reports without kinds or queue: the kind is read off their settings and queries', () => {
    const { workloadKinds: _k, queue: _q, ...old } = soRun;
    expect(runLabel(old)).toBe('ScaledObject/worker-deployment');
    const prom = {
      ...old,
      settings: { queue: 'q1', 'worker-job query': 'sum(kube_job_status_active{namespace="surge",job_name=~"worker-job-.+"})' },
      workloads: ['worker-job'],
    };
    expect(workloadKindOf(prom, 'worker-job')).toBe('ScaledJob');
    expect(runLabel(prom)).toBe('ScaledJob/worker-job · queue q1');
  });
});

describe('readReportFile: one line for each kind of bad input', () => {
  it('missing file, not JSON, not a report, another version', async () => {
    const bad = path.join(dir, 'bad');
    mkdirSync(bad, { recursive: true });
    writeFileSync(path.join(bad, 'text.json'), 'hello');
    writeFileSync(path.join(bad, 'other.json'), JSON.stringify({ name: 'package' }));
    writeFileSync(path.join(bad, 'v2.json'), JSON.stringify({ ...jobRun, version: 2 }));
    const message = async (file: string) => ((await readReportFile(file).catch((e: unknown) => e)) as Error).message;
    expect(await message(path.join(bad, 'missing.json'))).toBe(
      `${path.join(bad, 'missing.json')}: no such file (expected a run's report.json)`,
    );
    expect(await message(bad)).toBe(`${path.join(bad, 'report.json')}: no such file (expected a run's report.json)`);
    expect(await message(path.join(bad, 'text.json'))).toMatch(/text\.json: not a readable scale report \(.*JSON/);
    expect(await message(path.join(bad, 'other.json'))).toMatch(
      /other\.json: not a scale report \(expected version, startedAt, endedAt, workloads and timeline/,
    );
    expect(await message(path.join(bad, 'v2.json'))).toBe(
      `${path.join(bad, 'v2.json')}: scale report version 2; this build reads version 1 (re-render it with the keda-local that wrote it)`,
    );
    for (const file of ['missing.json', 'text.json', 'other.json', 'v2.json']) {
      const error = await readReportFile(path.join(bad, file)).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'REPORT_FILE_INVALID' });
      expect((error as Error).message).not.toContain('\n');
    }
  });
});
