/**
 * The JSON metrics API polled by KEDA's `metrics-api` trigger:
 *
 *   GET /api/v1/queues/<name> → 200 { queue, ready, inFlight, deadLettered, total, observedAt }
 *
 * Every number works as `valueLocation` (`ready` for messages waiting, `total` = ready + inFlight for
 * the work outstanding). A broker that cannot be read answers 503, never a 200 with 0: KEDA treats a
 * non-200 as a scaler error and applies the ScaledObject's `fallback`, where a 0 would scale in.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { QueueDepthMonitor } from '@surge/queue-depth';
import type { ApiAuth } from '../auth.ts';

export interface QueueRoutesOptions {
  monitor: QueueDepthMonitor;
  auth: ApiAuth;
}

export interface QueueDepthBody {
  queue: string;
  ready: number;
  inFlight: number;
  deadLettered: number;
  total: number;
  /** When the broker was read (readings are reused for up to DEPTH_CACHE_MS). */
  observedAt: string;
}

export const queueRoutes: FastifyPluginAsync<QueueRoutesOptions> = async (app, { monitor, auth }) => {
  app.get<{ Params: { name: string } }>('/api/v1/queues/:name', async (request, reply) => {
    // Auth before the lookup, so an unauthenticated caller cannot list queue names by 404 vs 401.
    if (!auth(request, reply)) return reply;
    void reply.header('cache-control', 'no-store');
    const { name } = request.params;
    if (!monitor.has(name)) return reply.code(404).send({ error: 'unknown_queue', queue: name });
    const reading = await monitor.read(name);
    if (!reading.ok) {
      // The broker's message stays in the log (written once per failed read); the body says what kind of failure.
      // A broker that answered with something that is no count is told apart from one that did not answer.
      const error = reading.error.code === 'QUEUE_DEPTH_INVALID' ? 'depth_invalid' : 'broker_unavailable';
      return reply.code(503).header('retry-after', '5').send({
        error,
        queue: name,
        code: reading.error.code,
        retryable: reading.error.retryable,
        observedAt: reading.observedAt.toISOString(),
      });
    }
    const { ready, inFlight, deadLettered } = reading.depth;
    const body: QueueDepthBody = {
      queue: name,
      ready,
      inFlight,
      deadLettered,
      total: ready + inFlight,
      observedAt: reading.observedAt.toISOString(),
    };
    return body;
  });
};
