/**
 * How the producer answers when something goes wrong: one error handler for every route, a stable
 * `error` code in every body, and field-level reasons for a bad request. A client mistake always
 * gets a 4xx; only a fault of ours (or the broker) gets a 5xx, and its details stay in the log.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, FastifySchemaCompiler } from 'fastify';
import type { TSchema } from 'typebox';
import { validate, type FieldError } from '@surge/contracts';
import { isSurgeError } from '@surge/core';
import { LoadErrorCodes } from '@surge/load-generator';
import { isQueueError } from '@surge/queue-adapters';

/** An error with the status and body code to answer with. */
export class HttpError extends Error {
  readonly statusCode: number;
  readonly error: string;
  readonly headers: Readonly<Record<string, string>>;
  constructor(statusCode: number, error: string, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.statusCode = statusCode;
    this.error = error;
    this.headers = headers;
  }
}

/** A request part failed its schema; `errors` name each field and the reason. */
export class RequestValidationError extends Error {
  readonly statusCode = 400;
  readonly errors: FieldError[];
  constructor(part: string, errors: FieldError[]) {
    super(`invalid ${part}: ${errors.map((e) => `${e.field} ${e.message}`).join('; ')}`);
    this.errors = errors;
  }
}

/** Route schemas are validated by the contracts' own validator, so HTTP and queue name fields the same way. */
export const contractsValidatorCompiler: FastifySchemaCompiler<TSchema> =
  ({ schema, httpPart }) =>
  (value: unknown) => {
    const result = validate(schema, value);
    return result.ok ? { value: result.value } : { error: new RequestValidationError(httpPart ?? 'request', result.errors) };
  };

const RETRY_AFTER_SECONDS = '5';
/** Longest piece of client input (a URL, a header) an error body repeats: an answer never grows with the attack. */
export const MAX_ECHO_CHARS = 100;

export const clip = (text: string, max = MAX_ECHO_CHARS): string =>
  text.length <= max ? text : `${text.slice(0, max)}… (${text.length} chars)`;

// Fastify's own messages repeat client input (the media type, the URL); ours are fixed text.
const fastifyClientErrors: Record<string, { status: number; error: string; message?: string; errors?: FieldError[] }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, error: 'payload_too_large', message: 'the request body is over the size limit' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, error: 'unsupported_media_type', message: 'the body must be application/json' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    status: 400,
    error: 'invalid_request',
    errors: [{ field: '(body)', message: 'does not match Content-Length' }],
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, error: 'invalid_request', errors: [{ field: '(body)', message: 'is required' }] },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, error: 'invalid_request', errors: [{ field: '(body)', message: 'is not valid JSON' }] },
  FST_ERR_BAD_URL: {
    status: 400,
    error: 'invalid_request',
    errors: [{ field: '(url)', message: 'is not a valid URL (bad percent-encoding)' }],
  },
  FST_ERR_MAX_PARAM_LENGTH: {
    status: 414,
    error: 'uri_too_long',
    message: 'a path segment is longer than the 100 characters a route takes',
  },
};

function toHttp(error: FastifyError | Error): {
  status: number;
  body: Record<string, unknown>;
  headers?: Readonly<Record<string, string>>;
} {
  if (error instanceof RequestValidationError) return { status: 400, body: { error: 'invalid_request', errors: error.errors } };
  if (error instanceof HttpError)
    return { status: error.statusCode, body: { error: error.error, message: error.message }, headers: error.headers };
  if (isSurgeError(error)) {
    switch (error.code) {
      case LoadErrorCodes.CONFLICT:
        return { status: 409, body: { error: 'conflict', message: error.message } };
      case LoadErrorCodes.LIMIT:
        return { status: 429, body: { error: 'too_many_loads', message: error.message }, headers: { 'retry-after': RETRY_AFTER_SECONDS } };
      case LoadErrorCodes.CLOSED:
        return { status: 503, body: { error: 'shutting_down', message: error.message }, headers: { 'retry-after': RETRY_AFTER_SECONDS } };
      case LoadErrorCodes.TOO_LARGE:
        return { status: 400, body: { error: 'load_too_large', message: `${error.message} (PRODUCER_MAX_LOAD_BYTES)` } };
    }
    if (isQueueError(error) || error.code === 'TIMEOUT') {
      // The broker's own message may name hosts; the code is enough for the client.
      return {
        status: 503,
        body: { error: 'queue_unavailable', message: `the queue is not reachable (${error.code})` },
        headers: { 'retry-after': RETRY_AFTER_SECONDS },
      };
    }
  }
  const code = (error as FastifyError).code;
  const known = code === undefined ? undefined : fastifyClientErrors[code];
  if (known)
    return {
      status: known.status,
      body: known.errors
        ? { error: known.error, errors: known.errors }
        : { error: known.error, message: known.message ?? clip(error.message) },
    };
  const status = (error as FastifyError).statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    // Other client errors fastify raises: say what (briefly), never 5xx.
    return {
      status,
      body:
        status === 400
          ? { error: 'invalid_request', errors: [{ field: '(body)', message: clip(error.message) }] }
          : { error: 'bad_request', message: clip(error.message) },
    };
  }
  return { status: 500, body: { error: 'internal', message: 'internal error' } };
}

export function errorHandler(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const { status, body, headers } = toHttp(error);
  if (status >= 500) request.log.error({ err: error, status }, 'request failed');
  else request.log.info({ status, error: body.error }, 'request refused');
  if (headers) void reply.headers(headers);
  return reply.code(status).send(body);
}

/**
 * fastify's `frameworkErrors`: a URL the router cannot decode (`/load/%ff`) or a path segment over
 * its length limit reaches this instead of fastify's own body, which repeats the whole URL.
 */
export function frameworkErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  void errorHandler(error, request, reply);
}

/** What a request the HTTP parser refused gets, in the same shape as every other error. */
export function clientErrorAnswer(code: string | undefined): { status: number; body: Record<string, unknown> } {
  switch (code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, body: { error: 'request_timeout', message: 'the request did not arrive in time' } };
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, body: { error: 'headers_too_large', message: 'the request headers are over the size limit' } };
    case 'HPE_INVALID_CONTENT_LENGTH':
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
      return {
        status: 400,
        body: {
          error: 'invalid_request',
          errors: [{ field: '(content-length)', message: 'is not a valid Content-Length for this request' }],
        },
      };
    default:
      return { status: 400, body: { error: 'bad_request', message: 'malformed HTTP request' } };
  }
}

/**
 * fastify's `clientErrorHandler`: the parser refused the bytes (oversized headers, a body longer
 * than its Content-Length runs into the next request) or a request timed out. Nothing reached a
 * route, so the answer is written on the socket, then the connection is closed.
 */
export function clientErrorHandler(this: FastifyInstance, error: Error & { code?: string }, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const { status, body } = clientErrorAnswer(error.code);
  this.log.info({ status, error: body.error, code: error.code }, 'request refused by the HTTP parser');
  // A response already under way cannot take a second status line.
  const inProgress = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
  if (!socket.writable || inProgress) {
    socket.destroy();
    return;
  }
  const text = JSON.stringify(body);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
    () => socket.destroy(),
  );
}

class PoisonedJson extends Error {}

/** JSON.parse with a reviver that refuses the keys that would change an object's prototype when merged. */
function parseJsonBody(text: string): unknown {
  if (text.length === 0) throw new RequestValidationError('body', [{ field: '(body)', message: 'is required' }]);
  try {
    return JSON.parse(text, (key, value: unknown) => {
      if (
        key === '__proto__' ||
        (key === 'constructor' && value !== null && typeof value === 'object' && Object.hasOwn(value, 'prototype'))
      )
        throw new PoisonedJson();
      return value;
    });
  } catch (error) {
    const message = error instanceof PoisonedJson ? 'has a __proto__ or constructor.prototype key, which is refused' : 'is not valid JSON';
    throw new RequestValidationError('body', [{ field: '(body)', message }]);
  }
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setValidatorCompiler(contractsValidatorCompiler);
  app.setErrorHandler(errorHandler);
  // Our own JSON parser, so a poisoned body is named as such rather than called invalid JSON.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as string));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: 'not_found', message: `no route ${request.method} ${clip(request.url.split('?')[0] ?? '')}` }),
  );
}
