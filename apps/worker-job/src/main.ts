/**
 * worker-job entry point: config → logger → one run → exit with a documented code. Start-up is the
 * hot path of a one-message pod, so only what the run needs is loaded, and the queue backend and
 * the Blob SDK are imported lazily by their factories.
 */
import { handleShutdownSignals, loadConfigOrExit, withTimeout } from '@surge/core';
import { outcomeFileObserver } from '@surge/processing';
import { createQueueClient } from '@surge/queue-adapters';
import { createResultSink } from '@surge/results';
import { createLogger, startTracing, type Tracing } from '@surge/telemetry';
import { ExitCodes, runJob, type ExitCode } from './app.ts';
import { loadConfig } from './config.ts';

/** SIGTERM → abandon and exit within this budget: the worker must be gone within 2 s of SIGTERM. */
const SIGNAL_BUDGET_MS = 1800;

const config = loadConfigOrExit(() => loadConfig());
// Set by keda-local, which counts duplicates from these files; unset on a cluster.
const outcomes =
  config.outcomesDir === undefined ? undefined : loadConfigOrExit(() => outcomeFileObserver(config.outcomesDir as string, config.instance));
const logger = createLogger({ name: 'worker-job', level: config.logLevel, base: { instance: config.instance } });
const abort = new AbortController();
// Both are set below, after the signal handlers: a SIGTERM during start-up must already be handled.
const started: { tracing?: Tracing; running?: Promise<void> } = {};
let exited = false;

async function exit(code: ExitCode, reason: string): Promise<void> {
  if (exited) return;
  exited = true;
  const { tracing } = started;
  if (tracing?.tracer.enabled) await withTimeout(tracing.shutdown(), 500, 'exporting spans').catch(() => {});
  if (code === ExitCodes.OK) logger.info({ exitCode: code, reason }, 'worker-job finished');
  else {
    logger.error({ exitCode: code, reason }, 'worker-job failed');
    process.stderr.write(`worker-job: exit ${code}: ${reason.replace(/\s+/g, ' ')}\n`);
  }
  // Explicit exit: no SDK socket or timer can keep a finished Job pod Running (a Service Bus close
  // has been seen to hang; docs/field-problems.md#service-bus).
  process.exit(code);
}

handleShutdownSignals({
  graceMs: SIGNAL_BUDGET_MS,
  stop: async (signal) => {
    abort.abort(new Error(signal));
    await started.running;
  },
  log: (message, fields) => logger.warn(fields ?? {}, message),
  // A run that overruns the budget, or a second signal, is cut short: unexpected by definition.
  exit: (code) =>
    void exit(
      code === 0 ? ExitCodes.OK : ExitCodes.UNEXPECTED,
      code === 0 ? 'stopped by a signal' : 'stopped by a signal; the run did not finish in time',
    ),
});

// No OpenTelemetry module is loaded unless OTEL_EXPORTER_OTLP_ENDPOINT is set.
const tracing = (started.tracing = await startTracing({
  serviceName: 'worker-job',
  endpoint: config.otlpEndpoint,
  system: config.queue.kind,
}));
started.running = runJob({
  receiveCount: config.receiveCount,
  receiveWaitMs: config.receiveWaitMs,
  instance: config.instance,
  maxDeliveries: config.queue.maxDeliveries,
  openQueue: () => createQueueClient(config.queue, { logger, usage: 'consume' }),
  openSink: () => createResultSink(config.results, { logger }),
  logger,
  signal: abort.signal,
  // From the process's own start, not the pod's: Pending time (node provisioning, image pull) is not work.
  workDeadline: { at: performance.timeOrigin + config.workDeadlineMs, budgetMs: config.workDeadlineMs },
  tracer: tracing.tracer,
  ...(outcomes === undefined ? {} : { observer: outcomes }),
}).then(
  (outcome) => exit(outcome.exitCode, outcome.reason),
  (error: unknown) => exit(ExitCodes.UNEXPECTED, `unexpected error: ${error instanceof Error ? error.message : String(error)}`),
);
