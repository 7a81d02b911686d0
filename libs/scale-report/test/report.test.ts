import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  TimelineRecorder,
  accounting,
  buildReport,
  percentile,
  readReport,
  renderHtml,
  timelineCsv,
  writeReport,
  type TimelineSample,
} from '../src/index.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const s = (sec: number, depth: number, job: number, deploy: number): TimelineSample => ({
  at: T0 + sec * 1000,
  depth,
  ready: Math.max(0, depth - job - deploy),
  inFlight: Math.min(depth, job + deploy),
  deadLettered: 0,
  replicas: { 'worker-job': job, 'worker-deployment': deploy },
});

// 0 → 1 → 4 → 6 → 0 with the queue draining at 8 s and every worker gone at 12 s.
const timeline = [
  s(0, 0, 0, 0),
  s(1, 500, 0, 0),
  s(2, 480, 1, 0),
  s(4, 300, 2, 2),
  s(6, 100, 3, 3),
  s(8, 0, 2, 3),
  s(10, 0, 0, 3),
  s(12, 0, 0, 0),
  s(14, 0, 0, 0),
];
const dir = mkdtempSync(path.join(os.tmpdir(), 'surge-report-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('figures', () => {
  const report = buildReport({
    title: 'test run',
    source: 'keda-local',
    startedAt: T0,
    endedAt: T0 + 15_000,
    workloads: ['worker-job', 'worker-deployment'],
    timeline,
    latenciesMs: [10, 20, 30, 40, 50, 60, 70, 80, 90, 100],
    accounting: accounting({ sent: 500, distinctResults: 498, duplicates: 3, deadLettered: 2 }),
    settings: { backend: 'embedded' },
  });

  it('reads first worker, peaks, drained and back-to-zero off the timeline', () => {
    expect(report.figures).toMatchObject({
      durationSeconds: 15,
      timeToFirstWorkerSeconds: 2,
      timeToFirstResultSeconds: null,
      peak: { workload: 'all', replicas: 6, atSeconds: 6 },
      queueDrainedAtSeconds: 8,
      backToZeroAtSeconds: 12,
      maxDepth: 500,
    });
    expect(report.figures.peaks).toEqual([
      { workload: 'worker-job', replicas: 3, atSeconds: 6 },
      { workload: 'worker-deployment', replicas: 3, atSeconds: 6 },
    ]);
  });

  it('computes latency percentiles (nearest rank) and accounting', () => {
    expect(report.latency).toEqual({ count: 10, p50Ms: 50, p95Ms: 100, maxMs: 100 });
    expect(percentile([5], 95)).toBe(5);
    expect(Number.isNaN(percentile([], 50))).toBe(true);
    expect(report.accounting).toEqual({ sent: 500, results: 498, duplicates: 3, deadLettered: 2, lost: 0 });
    expect(accounting({ sent: 10, distinctResults: 7, duplicates: 0, deadLettered: 1 }).lost).toBe(2);
  });

  it('a run that never drained or never returned to zero says so (null)', () => {
    const busy = buildReport({
      title: 'x',
      source: 'keda-local',
      startedAt: T0,
      endedAt: T0 + 4000,
      workloads: ['w'],
      timeline: [{ at: T0, depth: 5, ready: 5, inFlight: 0, deadLettered: 0, replicas: { w: 1 } }],
    });
    expect(busy.figures).toMatchObject({ queueDrainedAtSeconds: null, backToZeroAtSeconds: null, timeToFirstWorkerSeconds: 0 });
  });

  it('renders a self-contained HTML page: inline SVG, no script, no network reference', () => {
    const html = renderHtml({ ...report, settings: { note: '<script>alert(1)</script>' } });
    expect(html).toMatch(/^<!doctype html>/);
    expect(html.match(/<svg viewBox/g)).toHaveLength(2);
    expect(html).not.toMatch(/<script|<link|<img|@import|url\(|https?:\/\//i);
    expect(html).toContain('&lt;script&gt;');
    expect(html).toContain('worker-deployment running');
    expect(html).toContain('lost = sent − results − dead-lettered');
  });

  it('writes report.html, report.json and timeline.csv, and reads the JSON back', async () => {
    const files = await writeReport(dir, report);
    const csv = readFileSync(files.csv, 'utf8').trim().split('\n');
    expect(csv[0]).toBe(
      't_seconds,time,depth,ready,in_flight,dead_lettered,worker-job_running,worker-deployment_running,worker-job_desired,worker-deployment_desired,results',
    );
    expect(csv).toHaveLength(timeline.length + 1);
    expect(csv[4]).toBe(`4.000,${new Date(T0 + 4000).toISOString()},300,296,4,0,2,2,,,`);
    const back = await readReport(dir);
    expect(back).toEqual(JSON.parse(JSON.stringify(report)));
    expect(timelineCsv(back)).toBe(readFileSync(files.csv, 'utf8'));
    await expect(readReport(path.join(dir, 'missing'))).rejects.toMatchObject({ code: 'REPORT_FILE_INVALID' });
  });
});

describe('TimelineRecorder', () => {
  it('collapses repeated samples but keeps the last instant of a flat stretch', () => {
    const recorder = new TimelineRecorder();
    for (const sec of [0, 1, 2, 3]) recorder.record(s(sec, 0, 0, 0));
    recorder.record(s(4, 10, 1, 0));
    recorder.record(s(5, 10, 1, 0));
    expect(recorder.samples.map((x) => (x.at - T0) / 1000)).toEqual([0, 3, 4, 5]);
    expect(recorder.last?.at).toBe(T0 + 5000);
  });
});
