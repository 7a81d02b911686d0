/**
 * Operational endpoints: `/livez` says the process runs (never checks dependencies, so a broker
 * outage does not restart the pod), `/readyz` says it can take loads now (broker answers, not
 * shutting down), `/metrics` serves the app's own registry.
 */
import type { FastifyPluginAsync } from 'fastify';
import { withTimeout, errorMessage } from '@surge/core';
import type { Registry } from '@surge/metrics';
import type { QueueClient } from '@surge/queue-adapters';

export interface ProbeRoutesOptions {
  queue: Pick<QueueClient, 'ping'>;
  registry: Registry;
  accepting: () => boolean;
  pingTimeoutMs: number;
}

export const probeRoutes: FastifyPluginAsync<ProbeRoutesOptions> = async (app, { queue, registry, accepting, pingTimeoutMs }) => {
  // Probes run every few seconds: keep them out of the info log.
  const quiet = { logLevel: 'warn' as const };

  app.get('/livez', quiet, async () => ({ status: 'ok' }));

  app.get('/readyz', quiet, async (request, reply) => {
    if (!accepting()) return reply.code(503).send({ status: 'not ready', reason: 'shutting down' });
    try {
      await withTimeout(queue.ping(), pingTimeoutMs, 'queue ping');
      return { status: 'ready' };
    } catch (error) {
      request.log.warn({ err: errorMessage(error) }, 'readiness: queue not reachable');
      return reply.code(503).send({ status: 'not ready', reason: 'queue unreachable' });
    }
  });

  app.get('/metrics', quiet, async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()));
};
