/**
 * The base of every error Surge throws on purpose: a stable machine-readable `code` that callers
 * switch on, and `retryable`, which says whether doing the same thing again may succeed.
 */
const SURGE_ERROR = Symbol.for('surge.error');

export class SurgeError extends Error {
  readonly code: string;
  readonly retryable: boolean;
  readonly [SURGE_ERROR] = true;

  constructor(code: string, message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

/** Works across copies of this module (bundles, workers), unlike `instanceof`. */
export function isSurgeError(error: unknown): error is SurgeError {
  return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[SURGE_ERROR] === true;
}

/** One entry of a lib's error catalogue: the stable code and whether the same call may succeed later. */
export interface ErrorCodeSpec {
  readonly code: string;
  readonly retryable: boolean;
}

/**
 * The one way a lib declares its errors: a catalogue `{ KIND: { code, retryable } }` (codes share the
 * lib's prefix) and a guard built from it. The guard trusts core's brand, not `instanceof`, so an
 * error from another copy of the lib (a bundle, a worker) is still recognised, and it accepts only
 * this catalogue's codes, so one lib's error is never mistaken for another's.
 */
export function errorGuard<E extends SurgeError>(catalogue: Readonly<Record<string, ErrorCodeSpec>>): (error: unknown) => error is E {
  const codes = new Set(Object.values(catalogue).map((spec) => spec.code));
  return (error: unknown): error is E => isSurgeError(error) && codes.has(error.code);
}

/** A configuration value is missing or malformed: the message is one line naming the variable and what was expected. */
export class ConfigError extends SurgeError {
  readonly variable: string;
  constructor(variable: string, expected: string, got?: string) {
    super('CONFIG_INVALID', `${variable}: expected ${expected}${got === undefined ? '' : `, got ${got}`}`, { retryable: false });
    this.variable = variable;
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
