/**
 * The producer process: config → logger → queue client → app → listen; SIGTERM/SIGINT → stop taking
 * loads, finish or cancel running ones within SHUTDOWN_GRACE_MS, close, exit 0.
 */
import { handleShutdownSignals } from '@surge/core';
import { createQueueClient, traceQueueClient } from '@surge/queue-adapters';
import { createLogger, startTracing } from '@surge/telemetry';
import { buildApp } from './app.ts';
import { loadConfigFromProcess } from './config.ts';

const config = loadConfigFromProcess();
// Tracing first, so every log line can carry trace_id/span_id; off (and not loaded) without an endpoint.
const tracing = await startTracing({ serviceName: 'producer', endpoint: config.otlpEndpoint, system: config.queue.kind });
const logger = createLogger({ name: 'producer', level: config.logLevel, base: { queue: config.queue.queue }, mixin: tracing.tracer.logFields });
if (config.authDisabled) logger.warn('PRODUCER_AUTH_DISABLED=true: the write routes (POST /load, DELETE /load/:id) accept requests without a token');

const queue = traceQueueClient(await createQueueClient(config.queue, { logger: logger.child({ component: 'queue' }) }), tracing.tracer);
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

const address = await app.http.listen({ host: config.host, port: config.port });
logger.info({ address, queueKind: config.queue.kind, maxConcurrentLoads: config.maxConcurrentLoads, batchSize: config.batchSize }, 'producer ready');
