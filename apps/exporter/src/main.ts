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
  // `observe`: reading depth declares nothing, so QUEUE_MAX_DELIVERIES (the workers' setting) does not matter here.
  openClient: (queue) => createQueueClient({ ...config.queue, queue }, { logger: queueLogger, usage: 'observe' }),
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
  // A port that cannot be had is configuration, like in every app: one line on stderr, exit 2.
  const reason = `cannot listen on ${config.host}:${config.port} (PORT): ${error instanceof Error ? error.message : String(error)}`;
  logger.error({ exitCode: 2, reason }, 'exporter cannot start');
  process.stderr.write(`exporter: exit 2: ${reason}\n`);
  process.exit(2);
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
