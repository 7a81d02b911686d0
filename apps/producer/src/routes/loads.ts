/**
 * The load API: start a load, read its status, list loads, stop one. Schemas are data (TypeBox,
 * shared with the queue through @surge/contracts); the handlers only call the load registry.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { onRequestAsyncHookHandler } from 'fastify';
import { Type } from 'typebox';
import { LoadId, LoadRequest, LoadStatus } from '@surge/contracts';
import { withTimeout } from '@surge/core';
import { loadBytes, type LoadRegistry } from '@surge/load-generator';
import type { QueueClient } from '@surge/queue-adapters';
import { HttpError } from '../http-errors.ts';

export const LoadAccepted = Type.Object({ loadId: LoadId, statusUrl: Type.String() }, { additionalProperties: false });
const LoadParams = Type.Object({ id: LoadId }, { additionalProperties: false });
const LoadList = Type.Object({ loads: Type.Array(LoadStatus) });

export interface LoadRoutesOptions {
  loads: LoadRegistry;
  queue: Pick<QueueClient, 'ping'>;
  requireAuth: onRequestAsyncHookHandler;
  pingTimeoutMs: number;
  /** Refuses a load the queue's disk cannot hold (embedded queue only), given the bytes still to be written. */
  checkFreeSpace?: (neededBytes: () => number) => Promise<void>;
}

export const statusUrl = (loadId: string): string => `/load/${encodeURIComponent(loadId)}`;

export const loadRoutes: FastifyPluginAsyncTypebox<LoadRoutesOptions> = async (
  app,
  { loads, queue, requireAuth, pingTimeoutMs, checkFreeSpace },
) => {
  const notFound = (id: string): HttpError => new HttpError(404, 'not_found', `no load ${id}`);

  app.post('/load', { onRequest: requireAuth, schema: { body: LoadRequest, response: { 202: LoadAccepted } } }, async (request, reply) => {
    const known = request.body.loadId !== undefined && loads.get(request.body.loadId) !== undefined;
    // A new load needs a reachable broker now: refusing with 503 beats a load that fails in the background.
    if (!known && loads.accepting) {
      await withTimeout(queue.ping(), pingTimeoutMs, 'queue ping');
      // The budget first: a load too large for any disk is a 400, never a "retry later".
      loads.checkSize(request.body);
      if (checkFreeSpace) await checkFreeSpace(() => loads.pendingBytes + loadBytes(request.body));
    }
    const { status, created } = loads.start(request.body);
    const url = statusUrl(status.loadId);
    request.log.info(
      { loadId: status.loadId, created, total: status.total },
      created ? 'load accepted' : 'load already known (idempotent retry)',
    );
    return reply.code(202).header('location', url).send({ loadId: status.loadId, statusUrl: url });
  });

  // Reads need the token too: load ids, sizes and timings are not for anyone who can reach the port.
  app.get('/load/:id', { onRequest: requireAuth, schema: { params: LoadParams, response: { 200: LoadStatus } } }, async (request) => {
    const status = loads.get(request.params.id);
    if (!status) throw notFound(request.params.id);
    return status;
  });

  app.get('/loads', { onRequest: requireAuth, schema: { response: { 200: LoadList } } }, async () => ({ loads: loads.list() }));

  app.delete(
    '/load/:id',
    { onRequest: requireAuth, schema: { params: LoadParams, response: { 200: LoadStatus, 202: LoadStatus } } },
    async (request, reply) => {
      const status = loads.cancel(request.params.id);
      if (!status) throw notFound(request.params.id);
      // 202 while the batch in flight is still being confirmed; 200 when the load had already ended.
      const ended = status.state === 'completed' || status.state === 'failed' || status.state === 'cancelled';
      return reply.code(ended ? 200 : 202).send(status);
    },
  );
};
