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
