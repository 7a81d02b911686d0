import type { ManifestIssue } from './errors.ts';

/**
 * Reads fields out of an untyped manifest while collecting every issue (instead of stopping at the first),
 * so a `ManifestError` lists everything wrong at once.
 */
export class ManifestReader {
  readonly issues: ManifestIssue[] = [];
  readonly warnings: string[] = [];
  readonly #allowUnsupported: boolean;

  constructor(allowUnsupported: boolean) {
    this.#allowUnsupported = allowUnsupported;
  }

  invalid(path: string, message: string): void {
    this.issues.push({ path, message, unsupported: false });
  }

  /** A valid KEDA feature we do not model: an error, or a warning (and ignored) when the caller allows it. */
  unsupported(path: string, message: string): void {
    if (this.#allowUnsupported) this.warnings.push(`${path}: ${message}; ignored`);
    else this.issues.push({ path, message, unsupported: true });
  }

  warn(path: string, message: string): void {
    this.warnings.push(`${path}: ${message}`);
  }

  object(value: unknown, path: string, required: boolean): Record<string, unknown> | undefined {
    if (value === undefined || value === null) {
      if (required) this.invalid(path, 'is required');
      return undefined;
    }
    if (typeof value !== 'object' || Array.isArray(value)) {
      this.invalid(path, 'must be an object');
      return undefined;
    }
    return value as Record<string, unknown>;
  }

  string(value: unknown, path: string, required: boolean): string | undefined {
    if (value === undefined || value === null || value === '') {
      if (required) this.invalid(path, 'is required');
      return undefined;
    }
    if (typeof value !== 'string') {
      this.invalid(path, `must be a string, got ${JSON.stringify(value)}`);
      return undefined;
    }
    return value;
  }

  /** An integer spec field (int32 in the CRD), within [min, max]. */
  integer(value: unknown, path: string, bounds: { min?: number; max?: number } = {}): number | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      this.invalid(path, `must be an integer, got ${JSON.stringify(value)}`);
      return undefined;
    }
    if (bounds.min !== undefined && value < bounds.min) {
      this.invalid(path, `must be >= ${bounds.min}, got ${value}`);
      return undefined;
    }
    if (bounds.max !== undefined && value > bounds.max) {
      this.invalid(path, `must be <= ${bounds.max}, got ${value}`);
      return undefined;
    }
    return value;
  }

  boolean(value: unknown, path: string): boolean | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'boolean') {
      this.invalid(path, `must be true or false, got ${JSON.stringify(value)}`);
      return undefined;
    }
    return value;
  }

  oneOf<T extends string>(value: unknown, path: string, allowed: readonly T[]): T | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
      this.invalid(path, `must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
      return undefined;
    }
    return value as T;
  }
}

/**
 * Trigger metadata is `map[string]string` in KEDA, so numbers arrive as strings ("5"). A bare YAML
 * number is accepted too (the API server would reject it, but the meaning is unambiguous).
 */
export class MetadataReader {
  readonly #reader: ManifestReader;
  readonly #metadata: Record<string, unknown>;
  readonly #path: string;

  constructor(reader: ManifestReader, metadata: Record<string, unknown>, path: string) {
    this.#reader = reader;
    this.#metadata = metadata;
    this.#path = path;
  }

  path(key: string): string {
    return `${this.#path}.${key}`;
  }

  has(key: string): boolean {
    const raw = this.#metadata[key];
    return raw !== undefined && raw !== null && raw !== '';
  }

  string(key: string, required = false): string | undefined {
    const raw = this.#metadata[key];
    if (raw === undefined || raw === null || raw === '') {
      if (required) this.#reader.invalid(this.path(key), 'is required');
      return undefined;
    }
    if (typeof raw === 'number' || typeof raw === 'boolean') return String(raw);
    if (typeof raw !== 'string') {
      this.#reader.invalid(this.path(key), `must be a string, got ${JSON.stringify(raw)}`);
      return undefined;
    }
    return raw;
  }

  /** Go's strconv.ParseFloat: finite decimal or exponent notation, nothing else. */
  float(key: string, required = false): number | undefined {
    const text = this.string(key, required);
    if (text === undefined) return undefined;
    const trimmed = text.trim();
    const value = Number(trimmed);
    if (trimmed !== text || trimmed === '' || !Number.isFinite(value) || /^0[xob]/i.test(trimmed)) {
      this.#reader.invalid(this.path(key), `must be a number, got ${JSON.stringify(text)}`);
      return undefined;
    }
    return value;
  }

  integer(key: string, required = false): number | undefined {
    const text = this.string(key, required);
    if (text === undefined) return undefined;
    if (!/^[+-]?\d+$/.test(text)) {
      this.#reader.invalid(this.path(key), `must be an integer, got ${JSON.stringify(text)}`);
      return undefined;
    }
    return Number(text);
  }

  /** Go's strconv.ParseBool. */
  boolean(key: string): boolean | undefined {
    const text = this.string(key);
    if (text === undefined) return undefined;
    if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(text)) return true;
    if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(text)) return false;
    this.#reader.invalid(this.path(key), `must be true or false, got ${JSON.stringify(text)}`);
    return undefined;
  }
}
