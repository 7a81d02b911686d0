/**
 * worker-deployment entry point: config → logger → ops server → clients → consume → on SIGTERM stop
 * intake, drain within DRAIN_TIMEOUT_MS, abandon the rest, close, exit 0. Signal handling is
 * installed before anything slow, so a pod stopped while starting still exits cleanly.
 */
import { errorMessage, handleShutdownSignals, isSurgeError, loadConfigOrExit, withTimeout } from '@surge/core';
import { WorkerExitCodes as ExitCodes, outcomeFileObserver } from '@surge/processing';
import { createQueueClient } from '@surge/queue-adapters';
import { createResultSink } from '@surge/results';
import { createLogger, startTracing, type Tracing } from '@surge/telemetry';
import { createRegistry, startOpsServer, type OpsServer } from '@surge/metrics';
import { WorkerDeployment } from './app.ts';
import { loadConfig } from './config.ts';

/** Beyond the drain budget: abandoning in-flight work and closing the clients. */
const CLOSE_BUDGET_MS = 3000;

const config = loadConfigOrExit(() => loadConfig());
// Set by keda-local, which counts duplicates from these files; unset on a cluster.
const outcomes =
  config.outcomesDir === undefined ? undefined : loadConfigOrExit(() => outcomeFileObserver(config.outcomesDir as string, config.instance));
const logger = createLogger({ name: 'worker-deployment', level: config.logLevel, base: { instance: config.instance } });
const registry = createRegistry({ app: 'worker-deployment' });

let app: WorkerDeployment | undefined;
let ops: OpsServer | undefined;
let tracing: Tracing | undefined;
let stopRequested = false;

/** A folder that cannot be used (EMBEDDED_QUEUE_DIR, RESULTS_DIR) is a configuration error, like a bad variable. */
const isConfigError = (error: unknown): boolean => isSurgeError(error) && error.code === 'CONFIG_INVALID';

function fail(code: (typeof ExitCodes)[keyof typeof ExitCodes], reason: string): never {
  logger.error({ exitCode: code, reason }, 'worker-deployment failed');
  process.stderr.write(`worker-deployment: exit ${code}: ${reason.replace(/\s+/g, ' ')}\n`);
  process.exit(code);
}

const starting = (async () => {
  ops = await startOpsServer({ host: config.host, port: config.port, registry, ready: () => app?.ready ?? false }).catch((error: unknown) =>
    fail(ExitCodes.CONFIG, `cannot listen on ${config.host}:${config.port}: ${errorMessage(error)}`),
  );
  logger.info({ host: config.host, port: ops.port }, 'ops server listening');
  tracing = await startTracing({ serviceName: 'worker-deployment', endpoint: config.otlpEndpoint, system: config.queue.kind });
  const [queue, sink] = await Promise.all([
    createQueueClient(config.queue, { logger, usage: 'consume' }).catch((error: unknown) =>
      isConfigError(error)
        ? fail(ExitCodes.CONFIG, `configuration error: ${errorMessage(error)}`)
        : fail(ExitCodes.QUEUE, `queue unavailable: ${errorMessage(error)}`),
    ),
    createResultSink(config.results, { logger }).catch((error: unknown) =>
      isConfigError(error)
        ? fail(ExitCodes.CONFIG, `configuration error: ${errorMessage(error)}`)
        : fail(ExitCodes.RESULTS, `result store unavailable: ${errorMessage(error)}`),
    ),
  ]);
  app = new WorkerDeployment({
    queue,
    sink,
    logger,
    registry,
    concurrency: config.concurrency,
    drainTimeoutMs: config.drainTimeoutMs,
    instance: config.instance,
    maxDeliveries: config.queue.maxDeliveries,
    tracer: tracing.tracer,
    closeTimeoutMs: CLOSE_BUDGET_MS,
    ...(outcomes === undefined ? {} : { observer: outcomes }),
    // A queue that retrying cannot fix (a damaged embedded file): hand back what is in flight, then exit 3.
    onGiveUp: (error) => {
      void withTimeout(Promise.resolve(app?.stop()), config.drainTimeoutMs + 2 * CLOSE_BUDGET_MS, 'stopping after a queue failure')
        .catch(() => {})
        .finally(() => fail(ExitCodes.QUEUE, `queue failure: ${errorMessage(error)}`));
    },
  });
  // SIGTERM while the clients were opening: do not start taking messages.
  if (stopRequested) return;
  await app.start().catch((error: unknown) => fail(ExitCodes.QUEUE, `cannot consume: ${errorMessage(error)}`));
})();

handleShutdownSignals({
  graceMs: config.drainTimeoutMs + 2 * CLOSE_BUDGET_MS,
  stop: async () => {
    stopRequested = true;
    await starting.catch(() => {});
    await app?.stop();
    await ops?.close();
    await tracing?.shutdown().catch(() => {});
  },
  log: (message, fields) => logger.warn(fields ?? {}, message),
});

await starting;
