import type { TSchema, Static } from 'typebox';
import { Compile } from 'typebox/compile';
import { LoadRequest, WorkMessage, type WorkSpec } from './schemas.ts';

export interface FieldError {
  /** Dotted path of the offending field (`work.durationMs`); empty for the whole value. */
  field: string;
  message: string;
}

export type Validation<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

type Validator = ReturnType<typeof Compile>;
const compiled = new WeakMap<TSchema, Validator>();

function validatorFor(schema: TSchema): Validator {
  let validator = compiled.get(schema);
  if (!validator) {
    validator = Compile(schema);
    compiled.set(schema, validator);
  }
  return validator;
}

function pathToField(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
}

/**
 * Checks a value against a schema and returns field-level errors, one per field, in a form that
 * can go straight into an HTTP 400 body or a dead-letter reason.
 */
export function validate<S extends TSchema>(schema: S, value: unknown): Validation<Static<S>> {
  const validator = validatorFor(schema);
  if (validator.Check(value)) return { ok: true, value: value as Static<S> };
  // One error per field: a union of literals reports each alternative; those become one "must be one of".
  const byField = new Map<string, { messages: string[]; allowed: unknown[] }>();
  const add = (field: string, message: string, allowed?: unknown): void => {
    const entry = byField.get(field) ?? { messages: [], allowed: [] };
    if (allowed !== undefined) entry.allowed.push(allowed);
    else entry.messages.push(message);
    byField.set(field, entry);
  };
  for (const error of validator.Errors(value)) {
    const field = pathToField(error.instancePath);
    const params = error.params as { additionalProperties?: string[]; requiredProperties?: string[]; allowedValue?: unknown };
    if (error.keyword === 'additionalProperties') {
      for (const name of params.additionalProperties ?? []) add(field ? `${field}.${name}` : name, 'is not a known field');
    } else if (error.keyword === 'required') {
      for (const name of params.requiredProperties ?? []) add(field ? `${field}.${name}` : name, 'is required');
    } else if (error.keyword === 'const') {
      add(field || '(body)', error.message, params.allowedValue);
    } else if (error.keyword !== 'boolean' && error.keyword !== 'anyOf') {
      // `boolean` repeats each unknown key (named above); `anyOf` summarises the const errors.
      add(field || '(body)', error.message);
    }
  }
  const errors: FieldError[] = [...byField].map(([field, { messages, allowed }]) => ({
    field,
    message:
      allowed.length > 0 && messages.length === 0
        ? `must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`
        : (messages[0] ?? 'is invalid'),
  }));
  if (errors.length === 0) errors.push({ field: '(body)', message: 'does not match the schema' });
  return { ok: false, errors };
}

export function formatFieldErrors(errors: readonly FieldError[]): string {
  return errors.map((e) => `${e.field}: ${e.message}`).join('; ');
}

/** The work a load asks for when the request leaves it out. */
export const DEFAULT_WORK: WorkSpec = { durationMs: 0, mode: 'wait', failureProbability: 0 };

export function validateLoadRequest(value: unknown): Validation<LoadRequest> {
  return validate(LoadRequest, value);
}

/**
 * Decodes a message body from the queue. Anything that is not a valid work message comes back as
 * errors (never throws), so the worker can dead-letter it at once with the reason.
 */
export function decodeWorkMessage(body: Uint8Array | string): Validation<WorkMessage> {
  let parsed: unknown;
  try {
    // Decoded in place: Buffer.from(body) would copy every message body first.
    const text =
      typeof body === 'string'
        ? body
        : Buffer.isBuffer(body)
          ? body.toString('utf8')
          : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
    parsed = JSON.parse(text);
  } catch {
    return { ok: false, errors: [{ field: '(body)', message: 'is not valid JSON' }] };
  }
  return validate(WorkMessage, parsed);
}

export function encodeWorkMessage(message: WorkMessage): Buffer {
  return Buffer.from(JSON.stringify(message));
}
