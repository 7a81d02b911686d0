/**
 * worker-deployment entry point: config → logger → ops server → clients → consume → on SIGTERM stop
 * intake, drain within DRAIN_TIMEOUT_MS, abandon the rest, close, exit 0. Signal handling is
 * installed before anything slow, so a pod stopped while starting still exits cleanly.
 */
import { handleShutdownSignals, loadConfigOrExit } from '@surge/core';
import { describe } from '@surge/processing';
import { createQueueClient } from '@surge/queue-adapters';
import { createResultSink } from '@surge/results';
import { createLogger, startTracing, type Tracing } from '@surge/telemetry';
import { createRegistry, startOpsServer, type OpsServer } from '@surge/metrics';
import { WorkerDeployment } from './app.ts';
import { loadConfig } from './config.ts';

/** Beyond the drain budget: abandoning in-flight work and closing the clients. */
const CLOSE_BUDGET_MS = 3000;

const config = loadConfigOrExit(() => loadConfig());
const logger = createLogger({ name: 'worker-deployment', level: config.logLevel, base: { instance: config.instance } });
const registry = createRegistry({ app: 'worker-deployment' });

let app: WorkerDeployment | undefined;
let ops: OpsServer | undefined;
let tracing: Tracing | undefined;
let stopRequested = false;

function fail(code: number, reason: string): never {
  logger.error({ exitCode: code, reason }, 'worker-deployment cannot start');
  process.stderr.write(`worker-deployment: exit ${code}: ${reason.replace(/\s+/g, ' ')}\n`);
  process.exit(code);
}

const starting = (async () => {
  ops = await startOpsServer({ host: config.host, port: config.port, registry, ready: () => app?.ready ?? false }).catch((error: unknown) =>
    fail(2, `cannot listen on ${config.host}:${config.port}: ${describe(error).message}`),
  );
  logger.info({ host: config.host, port: ops.port }, 'ops server listening');
  tracing = await startTracing({ serviceName: 'worker-deployment', endpoint: config.otlpEndpoint, system: config.queue.kind });
  const [queue, sink] = await Promise.all([
    createQueueClient(config.queue, { logger, usage: 'consume' }).catch((error: unknown) => fail(3, `queue unavailable: ${describe(error).message}`)),
    createResultSink(config.results, { logger }).catch((error: unknown) => fail(4, `result store unavailable: ${describe(error).message}`)),
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
  });
  // SIGTERM while the clients were opening: do not start taking messages.
  if (stopRequested) return;
  await app.start().catch((error: unknown) => fail(3, `cannot consume: ${describe(error).message}`));
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
