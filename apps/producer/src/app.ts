/**
 * The producer's wiring, testable without a process: fastify app, load registry and metrics over an
 * injected queue client and logger. No signals, no listen, no exit here — that is `main.ts`.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { LoadStatus } from '@surge/contracts';
import { withTimeout } from '@surge/core';
import { LoadRegistry, type Clock, type PropertiesFor } from '@surge/load-generator';
import type { QueueClient } from '@surge/queue-adapters';
import type { Logger } from '@surge/telemetry';
import { createRegistry, type Registry } from '@surge/metrics';
import { bearerAuth } from './auth.ts';
import type { ProducerConfig } from './config.ts';
import { freeSpaceCheck } from './disk-space.ts';
import { clientErrorHandler, frameworkErrorHandler, installErrorHandling } from './http-errors.ts';
import { createProducerMetrics } from './metrics.ts';
import { loadRoutes } from './routes/loads.ts';
import { probeRoutes } from './routes/probes.ts';

export type ProducerAppConfig = Pick<ProducerConfig, 'token' | 'maxConcurrentLoads' | 'batchSize' | 'bodyLimitBytes' | 'sendRetryMs'> &
  Partial<Pick<ProducerConfig, 'maxLoadBytes' | 'minFreeBytes' | 'requestTimeoutMs' | 'headersTimeoutMs'>> & {
    /** The queue's settings; an embedded queue's folder gets a free-space check before each new load. */
    queue?: Pick<ProducerConfig['queue'], 'kind'> & { dir?: string };
  };

/**
 * A socket with no traffic at all for this long is closed; above fastify's 72 s keep-alive, so an
 * idle keep-alive connection still ends by keep-alive first (load balancers expect that).
 */
export const CONNECTION_IDLE_TIMEOUT_MS = 75_000;

export interface ProducerAppOptions {
  config: ProducerAppConfig;
  queue: QueueClient;
  logger: Logger;
  /** Prometheus registry; a fresh one (with process metrics) by default. */
  registry?: Registry;
  /** Transport properties per message (trace context); none by default. */
  propertiesFor?: PropertiesFor;
  clock?: Clock;
  /** Bound on a broker ping from /readyz and before a new load. */
  pingTimeoutMs?: number;
}

export interface ProducerApp {
  http: FastifyInstance;
  loads: LoadRegistry;
  registry: Registry;
  /**
   * Graceful stop within `graceMs`: refuse new loads (503), let running loads finish for most of
   * the budget, cancel the rest (each stops after its in-flight batch), log what each sent, close
   * the HTTP server. The queue client belongs to the caller.
   */
  stop(graceMs: number): Promise<LoadStatus[]>;
}

export async function buildApp(options: ProducerAppOptions): Promise<ProducerApp> {
  const { config, queue, logger } = options;
  const pingTimeoutMs = options.pingTimeoutMs ?? 2_000;
  const registry = options.registry ?? createRegistry({ app: 'producer' });
  // The gauge reads `loads` only on a scrape, after it exists.
  const metrics = createProducerMetrics(registry, () => loads.active);
  const loads = new LoadRegistry({
    queue,
    maxConcurrentLoads: config.maxConcurrentLoads,
    maxLoadBytes: config.maxLoadBytes,
    batchSize: config.batchSize,
    sendRetryMs: config.sendRetryMs,
    logger: logger.child({ component: 'loads' }),
    observer: metrics.observer,
    propertiesFor: options.propertiesFor,
    clock: options.clock,
  });

  const requestTimeoutMs = config.requestTimeoutMs ?? 10_000;
  const headersTimeoutMs = Math.min(config.headersTimeoutMs ?? 5_000, requestTimeoutMs);
  const http = Fastify({
    // Typed as fastify's base logger so plugins see the default instance type.
    loggerInstance: logger as FastifyBaseLogger,
    bodyLimit: config.bodyLimitBytes,
    // Kubernetes probes and load balancers keep connections open; do not let them hold a close.
    forceCloseConnections: 'idle',
    // A client that sends its headers or body slowly must not hold a connection: 408, then closed.
    requestTimeout: requestTimeoutMs,
    connectionTimeout: CONNECTION_IDLE_TIMEOUT_MS,
    // Node checks both timeouts only every `connectionsCheckingInterval` (30 s by default).
    http: {
      requestTimeout: requestTimeoutMs,
      headersTimeout: headersTimeoutMs,
      connectionsCheckingInterval: Math.min(1_000, Math.ceil(headersTimeoutMs / 2)),
    },
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler,
  });
  installErrorHandling(http);
  const queueDir = config.queue?.kind === 'embedded' ? config.queue.dir : undefined;
  const checkFreeSpace = queueDir === undefined ? undefined : freeSpaceCheck(queueDir, config.minFreeBytes ?? 1024 ** 3);
  // Only JSON bodies: a text/plain body is refused with 415 rather than validated as a string.
  http.removeContentTypeParser('text/plain');
  await http.register(probeRoutes, { queue, registry, accepting: () => loads.accepting, pingTimeoutMs });
  await http.register(loadRoutes, { loads: loads, queue, requireAuth: bearerAuth(config.token), pingTimeoutMs, checkFreeSpace });

  return {
    http,
    loads: loads,
    registry,
    async stop(graceMs) {
      const waitMs = Math.floor(graceMs * 0.6);
      const cancelMs = Math.floor(graceMs * 0.25);
      let finals: LoadStatus[];
      try {
        finals = await withTimeout(loads.shutdown(waitMs), waitMs + cancelMs, 'stopping loads');
      } catch {
        // A batch still waiting for its confirm: report where each load stands now.
        finals = loads.list().filter((s) => s.state === 'running' || s.state === 'pending');
        logger.warn({ loads: finals.length }, 'loads still had a batch in flight at the end of the grace budget');
      }
      for (const status of finals) {
        logger.info({ loadId: status.loadId, state: status.state, sent: status.sent, total: status.total }, 'load at shutdown');
      }
      await http.close();
      return finals;
    },
  };
}
