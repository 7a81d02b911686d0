import { createHash, timingSafeEqual } from 'node:crypto';
import type { onRequestAsyncHookHandler } from 'fastify';
import { HttpError } from './http-errors.ts';

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/**
 * `Authorization: Bearer <token>` on the load routes (reads included). Both sides are hashed first so the compare
 * takes the same time whatever the length or content of the guess. Without a token (auth
 * explicitly disabled) every request passes.
 */
export function bearerAuth(token: string | undefined): onRequestAsyncHookHandler {
  if (token === undefined) return async () => {};
  const expected = digest(token);
  return async (request) => {
    const match = /^Bearer +(\S+) *$/i.exec(request.headers.authorization ?? '');
    if (!match?.[1] || !timingSafeEqual(digest(match[1]), expected)) {
      throw new HttpError(401, 'unauthorized', 'a valid bearer token is required', { 'www-authenticate': 'Bearer realm="surge-producer"' });
    }
  };
}
