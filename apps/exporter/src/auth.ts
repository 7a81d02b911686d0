import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();
const matches = (given: string | undefined, expected: Buffer | undefined): boolean =>
  given !== undefined && expected !== undefined && timingSafeEqual(digest(given), expected);

/** Answers the request (401) and returns false when it is not authorized. */
export type ApiAuth = (request: FastifyRequest, reply: FastifyReply) => boolean;

/**
 * Optional auth for the metrics API, in the two forms KEDA's `metrics-api` trigger can send:
 * `authMode: bearer` (`Authorization: Bearer <token>`) and `authMode: apiKey` (header `X-API-Key`,
 * KEDA's default `keyParamName`). With both configured either one is enough; with neither, the API
 * is open (as /metrics is). Both sides are hashed before comparing so the time taken does not depend
 * on how much of a guess was right.
 */
export function metricsApiAuth(secrets: { token: string | undefined; apiKey: string | undefined }): ApiAuth {
  if (secrets.token === undefined && secrets.apiKey === undefined) return () => true;
  const token = secrets.token === undefined ? undefined : digest(secrets.token);
  const apiKey = secrets.apiKey === undefined ? undefined : digest(secrets.apiKey);
  const challenge = [token ? 'Bearer realm="surge-exporter"' : undefined, apiKey ? 'ApiKey header="X-API-Key"' : undefined]
    .filter(Boolean)
    .join(', ');
  return (request, reply) => {
    const bearer = /^Bearer +(\S+) *$/i.exec(request.headers.authorization ?? '')?.[1];
    const key = request.headers['x-api-key'];
    if (matches(bearer, token) || matches(typeof key === 'string' ? key : undefined, apiKey)) return true;
    void reply.code(401).header('www-authenticate', challenge).send({ error: 'unauthorized' });
    return false;
  };
}
