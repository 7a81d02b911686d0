/**
 * The structured logger every lib accepts: pino's shape, so an app passes its pino logger (or a
 * child) straight in. Libs never log payloads or secrets through it.
 */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** The default when a caller passes no logger. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** An error as log fields: its message, and the stable `code`/`retryable` when it carries them (never its cause chain or payload). */
export function errorFields(error: unknown): { message: string; code?: string; retryable?: boolean } {
  if (error instanceof Error) {
    const { code, retryable } = error as Error & { code?: unknown; retryable?: unknown };
    return {
      message: error.message,
      ...(typeof code === 'string' ? { code } : {}),
      ...(typeof retryable === 'boolean' ? { retryable } : {}),
    };
  }
  return { message: String(error) };
}
