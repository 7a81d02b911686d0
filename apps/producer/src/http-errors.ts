/**
 * How the producer answers when something goes wrong: one error handler for every route, a stable
 * `error` code in every body, and field-level reasons for a bad request. A client mistake always
 * gets a 4xx; only a fault of ours (or the broker) gets a 5xx, and its details stay in the log.
 */
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

const fastifyClientErrors: Record<string, { status: number; error: string; errors?: FieldError[] }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, error: 'payload_too_large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, error: 'unsupported_media_type' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, error: 'invalid_request', errors: [{ field: '(body)', message: 'does not match Content-Length' }] },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, error: 'invalid_request', errors: [{ field: '(body)', message: 'is required' }] },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, error: 'invalid_request', errors: [{ field: '(body)', message: 'is not valid JSON' }] },
};

function toHttp(error: FastifyError | Error): { status: number; body: Record<string, unknown>; headers?: Readonly<Record<string, string>> } {
  if (error instanceof RequestValidationError) return { status: 400, body: { error: 'invalid_request', errors: error.errors } };
  if (error instanceof HttpError) return { status: error.statusCode, body: { error: error.error, message: error.message }, headers: error.headers };
  if (isSurgeError(error)) {
    switch (error.code) {
      case LoadErrorCodes.CONFLICT:
        return { status: 409, body: { error: 'conflict', message: error.message } };
      case LoadErrorCodes.LIMIT:
        return { status: 429, body: { error: 'too_many_loads', message: error.message }, headers: { 'retry-after': RETRY_AFTER_SECONDS } };
      case LoadErrorCodes.CLOSED:
        return { status: 503, body: { error: 'shutting_down', message: error.message }, headers: { 'retry-after': RETRY_AFTER_SECONDS } };
    }
    if (isQueueError(error) || error.code === 'TIMEOUT') {
      // The broker's own message may name hosts; the code is enough for the client.
      return { status: 503, body: { error: 'queue_unavailable', message: `the queue is not reachable (${error.code})` }, headers: { 'retry-after': RETRY_AFTER_SECONDS } };
    }
  }
  const code = (error as FastifyError).code;
  const known = code === undefined ? undefined : fastifyClientErrors[code];
  if (known) return { status: known.status, body: known.errors ? { error: known.error, errors: known.errors } : { error: known.error, message: error.message } };
  const status = (error as FastifyError).statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    // Other client errors fastify raises (a poisoned JSON body, a bad header): say what, never 5xx.
    return { status, body: status === 400 ? { error: 'invalid_request', errors: [{ field: '(body)', message: error.message }] } : { error: 'bad_request', message: error.message } };
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

export function installErrorHandling(app: FastifyInstance): void {
  app.setValidatorCompiler(contractsValidatorCompiler);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((request, reply) => reply.code(404).send({ error: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` }));
}
