/**
 * Typed readers over an environment map. Apps pass `process.env` in from their one config module;
 * every reader throws ConfigError with a one-line message naming the variable and the expected form.
 * Values of secret variables never appear in those messages.
 */
import { ConfigError } from './errors.ts';

export type Env = Readonly<Record<string, string | undefined>>;

function raw(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

export function readString(env: Env, name: string, fallback?: string): string {
  const value = raw(env, name) ?? fallback;
  if (value === undefined) throw new ConfigError(name, 'a non-empty value');
  return value;
}

export function readOptionalString(env: Env, name: string): string | undefined {
  return raw(env, name);
}

export function readEnum<T extends string>(env: Env, name: string, allowed: readonly T[], fallback?: T): T {
  const value = raw(env, name) ?? fallback;
  if (value === undefined || !(allowed as readonly string[]).includes(value)) {
    throw new ConfigError(name, `one of ${allowed.join(', ')}`, value === undefined ? undefined : JSON.stringify(value));
  }
  return value as T;
}

export function readInteger(env: Env, name: string, options: { fallback?: number; min?: number; max?: number } = {}): number {
  const text = raw(env, name);
  const min = options.min ?? Number.MIN_SAFE_INTEGER;
  const max = options.max ?? Number.MAX_SAFE_INTEGER;
  const expected = `an integer from ${min} to ${max}`;
  if (text === undefined) {
    if (options.fallback === undefined) throw new ConfigError(name, expected);
    return options.fallback;
  }
  if (!/^-?\d+$/.test(text)) throw new ConfigError(name, expected, JSON.stringify(text));
  const value = Number(text);
  if (value < min || value > max) throw new ConfigError(name, expected, text);
  return value;
}

export function readBoolean(env: Env, name: string, fallback: boolean): boolean {
  const text = raw(env, name);
  if (text === undefined) return fallback;
  if (/^(1|true|yes|on)$/i.test(text)) return true;
  if (/^(0|false|no|off)$/i.test(text)) return false;
  throw new ConfigError(name, 'true or false', JSON.stringify(text));
}

/** A URL with one of the given protocols. Credentials in it are never echoed back. */
export function readUrl(env: Env, name: string, protocols: readonly string[], fallback?: string): URL {
  const text = raw(env, name) ?? fallback;
  const expected = `a URL of the form ${protocols.map((p) => `${p}//…`).join(' or ')}`;
  if (text === undefined) throw new ConfigError(name, expected);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(name, expected, 'a value that is not a URL');
  }
  if (!protocols.includes(url.protocol)) throw new ConfigError(name, expected, `protocol ${url.protocol}`);
  return url;
}

/** Runs a config reader and turns a ConfigError into one line on stderr and exit code 2. */
export function loadConfigOrExit<T>(read: () => T, exit: (code: number) => never = (code) => process.exit(code)): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`configuration error: ${error.message}\n`);
      return exit(2);
    }
    throw error;
  }
}
