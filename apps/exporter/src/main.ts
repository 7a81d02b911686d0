/**
 * The exporter process: config → logger → app → listen; SIGTERM/SIGINT → readiness 503, close the
 * server and the queue clients within SHUTDOWN_GRACE_MS (default 5 s), exit 0. nginx and the broker
 * are contacted only at scrape time, so neither being down keeps the exporter from starting.
 */
import { handleShutdownSignals } from '@surge/core';
import { createQueueClient } from '@surge/queue-adapters';
import { createLogger } from '@surge/telemetry';
import { buildApp } from './app.ts';
import { loadConfigFromProcess } from './config.ts';

const config = loadConfigFromProcess();
const logger = createLogger({ name: 'exporter', level: config.logLevel });
const queueLogger = logger.child({ component: 'queue' });

const exporter = await buildApp({
  config,
  logger,
  openClient: (queue) => createQueueClient({ ...config.queue, queue }, { logger: queueLogger }),
});

handleShutdownSignals({
  graceMs: config.shutdownGraceMs,
  log: (message, fields) => logger.info(fields ?? {}, message),
  stop: async (reason) => {
    await exporter.close();
    logger.info({ reason }, 'exporter stopped');
  },
});

try {
  await exporter.http.listen({ host: config.host, port: config.port });
} catch (error) {
  logger.fatal({ err: error, host: config.host, port: config.port }, 'cannot listen');
  process.exit(1);
}
logger.info(
  {
    port: (exporter.http.server.address() as { port: number } | null)?.port,
    nginxTargets: exporter.nginx?.targets ?? [],
    queues: config.queues,
    queueKind: config.queue.kind,
    depthCacheMs: config.depthCacheMs,
    metricsApiAuth: [config.metricsApiToken ? 'bearer' : undefined, config.metricsApiKey ? 'apiKey' : undefined].filter(Boolean),
  },
  'exporter ready',
);
