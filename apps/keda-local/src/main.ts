/**
 * keda-local entry point: config → command. `demo` (the default) runs the whole system under KEDA's
 * rules and writes a report; `report` re-renders one or draws a cluster run from Prometheus.
 * SIGINT/SIGTERM during a demo stop the workers and still write the report.
 */
import { createWriteStream, mkdirSync } from 'node:fs';
import path from 'node:path';
import { errorMessage, handleShutdownSignals, loadConfigOrExit } from '@surge/core';
import type { ScaleComparison, ScaleReport } from '@surge/scale-report';
import { createLogger } from '@surge/telemetry';
import { loadConfig, USAGE, type DemoConfig } from './config.ts';
import { runDemo } from './demo.ts';
import { reportCompare, reportFromPrometheus, reportFromRun } from './report.ts';

const config = loadConfigOrExit(() => loadConfig());

function summary(report: ScaleReport): string {
  const f = report.figures;
  const s = (v: number | null) => (v === null ? '—' : `${v.toFixed(1)} s`);
  const lines = [
    `  first worker ${s(f.timeToFirstWorkerSeconds)} (first result ${s(f.timeToFirstResultSeconds)}) · peak ${f.peak ? `${f.peak.replicas} at ${s(f.peak.atSeconds)}` : '—'} · drained ${s(f.queueDrainedAtSeconds)} · back to zero ${s(f.backToZeroAtSeconds)} · total ${s(f.durationSeconds)}`,
  ];
  if (report.latency) lines.push(`  enqueue → result p50 ${report.latency.p50Ms} ms · p95 ${report.latency.p95Ms} ms`);
  if (report.accounting) {
    const a = report.accounting;
    lines.push(`  sent ${a.sent} · results ${a.results} · duplicates ${a.duplicates} · dead-lettered ${a.deadLettered} · lost ${a.lost}`);
  }
  return lines.join('\n');
}

/** The comparison table as text: one line per row, the runs' values, then each run against A. */
function compareSummary(comparison: ScaleComparison): string {
  const lines = comparison.runs.map((r) => `  ${r.key}: ${r.label}`);
  for (const row of comparison.rows) {
    const values = row.values.map((v, i) => `${comparison.runs[i]?.key} ${v ?? '—'}`).join(' · ');
    const versus = row.versusFirst.map((d) => `${d.key}−A ${d.difference ?? '—'}, ${d.key}/A ${d.ratio ?? '—'}`).join(' · ');
    lines.push(`  ${row.label} (${row.unit}): ${values}${versus ? ` (${versus})` : ''}`);
  }
  return lines.join('\n');
}

async function demo(demoConfig: DemoConfig): Promise<void> {
  mkdirSync(demoConfig.runDir, { recursive: true });
  const logFile = path.join(demoConfig.runDir, 'keda-local.log');
  const logger = createLogger({ name: 'keda-local', level: demoConfig.logLevel, destination: createWriteStream(logFile, { flags: 'a' }) });
  const abort = new AbortController();
  let exitCode = 1;
  process.stdout.write(
    `keda-local: ${demoConfig.count} messages, mode ${demoConfig.mode}, ${demoConfig.backend} queue ${demoConfig.queue.queue}; run folder ${demoConfig.runDir}\n`,
  );
  const running = runDemo(demoConfig, { logger, out: process.stdout, signal: abort.signal }).then(
    (outcome) => {
      process.stdout.write(
        `${outcome.ok ? 'done' : 'FAILED'}: ${outcome.reason}\n${summary(outcome.report)}\nreport: ${outcome.files.html}\n`,
      );
      exitCode = outcome.ok ? 0 : 1;
    },
    (error: unknown) => {
      logger.error({ err: errorMessage(error) }, 'demo failed');
      process.stderr.write(`keda-local: ${errorMessage(error)} (log: ${logFile})\n`);
      exitCode = 1;
    },
  );
  handleShutdownSignals({
    graceMs: 60_000,
    stop: async () => {
      abort.abort();
      await running;
    },
    exit: () => process.exit(exitCode),
  });
  await running;
  process.exit(exitCode);
}

async function main(): Promise<void> {
  switch (config.command) {
    case 'help':
      process.stdout.write(`${USAGE}\n`);
      return;
    case 'demo':
      return demo(config);
    case 'report': {
      const { report, html } = await reportFromRun(config);
      process.stdout.write(`${summary(report)}\nreport: ${html}\n`);
      return;
    }
    case 'report-compare': {
      const { comparison, html } = await reportCompare(config);
      process.stdout.write(`${compareSummary(comparison)}\ncompare: ${html}\n`);
      return;
    }
    case 'report-prometheus': {
      const { report, html } = await reportFromPrometheus(config);
      process.stdout.write(`${summary(report)}\nreport: ${html}\n`);
      return;
    }
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`keda-local: ${errorMessage(error)}\n`);
  process.exit(1);
});
