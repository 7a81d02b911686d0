/**
 * The producer process: config → logger → queue client → app → listen; SIGTERM/SIGINT → stop taking
 * loads, finish or cancel running ones within SHUTDOWN_GRACE_MS, close, exit 0.
 */
import { errorMessage, handleShutdownSignals, isSurgeError } from '@surge/core';
import { createQueueClient, openWhenAvailable, traceQueueClient } from '@surge/queue-adapters';
import { createLogger, startTracing } from '@surge/telemetry';
import { buildApp } from './app.ts';
import { loadConfigFromProcess } from './config.ts';

const config = loadConfigFromProcess();
// Tracing first, so every log line can carry trace_id/span_id; off (and not loaded) without an endpoint.
const tracing = await startTracing({ serviceName: 'producer', endpoint: config.otlpEndpoint, system: config.queue.kind });
const logger = createLogger({
  name: 'producer',
  level: config.logLevel,
  base: { queue: config.queue.queue },
  mixin: tracing.tracer.logFields,
});
if (config.authDisabled)
  logger.warn(
    'PRODUCER_AUTH_DISABLED=true: the load routes (POST /load, GET /load/:id, GET /loads, DELETE /load/:id) accept requests without a token',
  );

/**
 * What the process cannot recover from: one line on stderr and the code the workers use for the
 * same class (2 configuration, including a folder or port that cannot be used; 3 a queue that
 * retrying cannot fix, such as a damaged embedded file or refused credentials).
 */
function fail(code: 2 | 3, reason: string): never {
  logger.error({ exitCode: code, reason }, 'producer cannot start');
  process.stderr.write(`producer: exit ${code}: ${reason.replace(/\s+/g, ' ')}\n`);
  process.exit(code);
}
const failOnQueue = (error: unknown): never =>
  isSurgeError(error) && error.code === 'CONFIG_INVALID'
    ? fail(2, `configuration error: ${errorMessage(error)}`)
    : fail(3, `queue failure: ${errorMessage(error)}`);

// A broker that is down at start is waited for in the background (/readyz and POST /load answer 503
// meanwhile); only what retrying cannot fix ends the process.
const queueLogger = logger.child({ component: 'queue' });
const queue = traceQueueClient(
  await openWhenAvailable(() => createQueueClient(config.queue, { logger: queueLogger }), {
    kind: config.queue.kind,
    queue: config.queue.queue,
    logger: queueLogger,
    onFatal: failOnQueue,
  }).catch(failOnQueue),
  tracing.tracer,
);
const app = await buildApp({ config, queue, logger });

handleShutdownSignals({
  graceMs: config.shutdownGraceMs,
  log: (message, fields) => logger.info(fields ?? {}, message),
  stop: async (reason) => {
    const finals = await app.stop(Math.floor(config.shutdownGraceMs * 0.9));
    await queue.close();
    await tracing.shutdown();
    logger.info({ reason, loads: finals.length, sent: finals.reduce((n, s) => n + s.sent, 0) }, 'producer stopped');
  },
});

const address = await app.http
  .listen({ host: config.host, port: config.port })
  .catch((error: unknown) => fail(2, `cannot listen on ${config.host}:${config.port} (PORT): ${errorMessage(error)}`));
logger.info(
  { address, queueKind: config.queue.kind, maxConcurrentLoads: config.maxConcurrentLoads, batchSize: config.batchSize },
  'producer ready',
);
