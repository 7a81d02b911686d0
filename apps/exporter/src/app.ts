/**
 * The exporter's wiring, testable without a process: one owned Prometheus registry with the nginx
 * collector and the queue-depth gauges, and a fastify app serving `/metrics`, the KEDA metrics API,
 * `/livez` and `/readyz`. No signals, no listen, no exit here — that is `main.ts`.
 *
 * Neither nginx nor the broker is touched before the first scrape or API call, so the exporter
 * starts and serves whatever state they are in (`nginx_up 0`, `surge_queue_up 0`, 503 from the API).
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { collectDefaultMetrics } from 'prom-client';
import { createNginxCollector, type NginxCollector, type StubStatusReader } from '@surge/nginx-metrics';
import type { QueueClient } from '@surge/queue-adapters';
import { QueueDepthMonitor, registerQueueDepthMetrics } from '@surge/queue-depth';
import type { Logger } from '@surge/telemetry';
import { Registry } from '@surge/metrics';
import { metricsApiAuth } from './auth.ts';
import type { ExporterConfig } from './config.ts';
import { queueRoutes } from './routes/queues.ts';

export type ExporterAppConfig = Pick<
  ExporterConfig,
  'nginxStatusUrls' | 'nginxTimeoutMs' | 'constLabels' | 'queues' | 'depthCacheMs' | 'depthTimeoutMs' | 'metricsApiToken' | 'metricsApiKey'
>;

export interface ExporterAppOptions {
  config: ExporterAppConfig;
  logger: Logger;
  /** Opens the queue client of one exported queue; called lazily and again after a failure. */
  openClient: (queue: string) => Promise<QueueClient>;
  /** Node.js process metrics (`process_*`, `nodejs_*`) on /metrics. Default true. */
  processMetrics?: boolean;
  /** How long a rendering of the process metrics is reused. Default 1000 ms. */
  processMetricsTtlMs?: number;
  /** Replaces the stub_status HTTP read (tests). */
  readStubStatus?: StubStatusReader;
  now?: () => number;
}

export interface ExporterApp {
  http: FastifyInstance;
  registry: Registry;
  monitor: QueueDepthMonitor;
  nginx: NginxCollector | undefined;
  /** Stops taking requests (readiness goes 503 first), closes the server, then the queue clients. */
  close(): Promise<void>;
}

/**
 * The Node.js process metrics on a registry of their own, rendered at most once per `ttlMs`. They cost
 * about 0.8 ms per rendering (reading /proc, heap spaces, GC histograms) — ten times the nginx and
 * queue series — and describe this process, not an upstream, so a rendering up to a second old is
 * fine. The upstream series are never cached this way: they are read at every scrape.
 */
function processMetricsText(labels: Record<string, string>, ttlMs: number, now: () => number = Date.now): () => Promise<string> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, labels });
  let cached: { text: string; at: number } | undefined;
  let inFlight: Promise<string> | undefined;
  return () => {
    if (cached && now() - cached.at < ttlMs) return Promise.resolve(cached.text);
    inFlight ??= registry.metrics().then(
      (text) => {
        cached = { text, at: now() };
        inFlight = undefined;
        return text;
      },
      (error: unknown) => {
        inFlight = undefined;
        throw error;
      },
    );
    return inFlight;
  };
}

/**
 * Logs an upstream when it starts failing (or fails differently) and when it recovers — not on every
 * scrape, which with a 1 s scrape interval would be a line a second per target.
 */
function transitionLogger(logger: Logger, what: string, key: string) {
  const failing = new Map<string, string>();
  return (subject: string, failure: { code: string; message: string } | undefined): void => {
    const fields = { [key]: subject };
    if (failure === undefined) {
      if (failing.delete(subject)) logger.info(fields, `${what} recovered`);
    } else if (failing.get(subject) !== failure.code) {
      failing.set(subject, failure.code);
      logger.warn({ ...fields, code: failure.code }, `${what} failed: ${failure.message}`);
    }
  };
}

export async function buildApp(options: ExporterAppOptions): Promise<ExporterApp> {
  const { config, logger } = options;
  const registry = new Registry();
  const processText =
    options.processMetrics === false
      ? undefined
      : processMetricsText(config.constLabels, options.processMetricsTtlMs ?? 1_000, options.now);

  const nginx =
    config.nginxStatusUrls.length === 0
      ? undefined
      : createNginxCollector({
          registry,
          targets: config.nginxStatusUrls,
          constLabels: config.constLabels,
          timeoutMs: config.nginxTimeoutMs,
          onRead: transitionLogger(logger, 'nginx stub_status read', 'target'),
          read: options.readStubStatus,
        });

  const monitor = new QueueDepthMonitor({
    queues: config.queues,
    minIntervalMs: config.depthCacheMs,
    timeoutMs: config.depthTimeoutMs,
    now: options.now,
    onRead: transitionLogger(logger, 'queue depth read', 'queue'),
    openClient: async (queue) => {
      const client = await options.openClient(queue);
      logger.info({ queue, queueKind: client.kind }, 'queue client opened for depth reads');
      return client;
    },
  });
  registerQueueDepthMetrics({ registry, monitor, constLabels: config.constLabels });

  let closing = false;
  const http = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // Prometheus and KEDA poll every few seconds: a log line per request would drown the rest.
    logController: new LogController({ disableRequestLogging: true }),
    // No child logger per request: with redaction configured it costs ~5% of a scrape's CPU, and the
    // only per-request line (an unexpected error) carries the request id explicitly.
    childLoggerFactory: (base) => base,
    // Scrapers keep connections open; do not let idle ones hold a shutdown.
    forceCloseConnections: 'idle',
  });
  http.setNotFoundHandler((_request, reply) => reply.code(404).send({ error: 'not_found' }));
  http.setErrorHandler((error: { statusCode?: number; message: string }, request, reply) => {
    const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status >= 500) request.log.error({ err: error, reqId: request.id, url: request.url }, 'request failed');
    void reply.code(status).send({ error: status >= 500 ? 'internal' : 'bad_request' });
  });

  http.get('/livez', async () => ({ status: 'ok' }));
  // Ready as soon as it serves: an exporter that reports `up 0` is doing its job and must stay in the Service.
  http.get('/readyz', async (_request, reply) => (closing ? reply.code(503).send({ status: 'stopping' }) : { status: 'ready' }));
  // Scrapes that arrive while a rendering is in flight share it: it is built from the reads they
  // would share anyway (nginx and depth are single-flighted), so the text is the same, and a scrape
  // storm costs one prom-client rendering per nginx round trip instead of one per scrape. A scrape
  // that arrives after it finished starts a new one: nothing is reused once done.
  let rendering: Promise<string> | undefined;
  const liveText = (): Promise<string> =>
    (rendering ??= registry.metrics().finally(() => {
      rendering = undefined;
    }));
  // The body is encoded once per (rendering, process text) pair and shared as bytes by every scrape
  // that got that rendering, rather than re-encoding ~10 KB of text per response.
  let body: { live: string; proc: string | undefined; bytes: Buffer } | undefined;
  http.get('/metrics', async (_request, reply) => {
    const [live, proc] = await Promise.all([liveText(), processText?.()]);
    if (body?.live !== live || body.proc !== proc) {
      // Both are complete exposition texts ending in a newline, so they concatenate into one.
      body = { live, proc, bytes: Buffer.from(proc === undefined ? live : live + proc, 'utf8') };
    }
    return reply.header('content-type', registry.contentType).header('cache-control', 'no-store').send(body.bytes);
  });
  await http.register(queueRoutes, { monitor, auth: metricsApiAuth({ token: config.metricsApiToken, apiKey: config.metricsApiKey }) });

  return {
    http,
    registry,
    monitor,
    nginx,
    async close() {
      closing = true;
      nginx?.close();
      await http.close();
      await monitor.close();
    },
  };
}
