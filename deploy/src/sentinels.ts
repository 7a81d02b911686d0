/**
 * Sentinels: values a runbook fills in (registry, tag, client ids, …) are written in an overlay as
 * tokens `surge-sentinel-[a-z0-9-]+`, valid as image name, DNS label, label value and URL host
 * while unreplaced. Each overlay declares its tokens in one file, `sentinels.env`:
 * `<token>=<RUNBOOK_VARIABLE>` per line, `#` comments and blank lines allowed. The runbook replaces
 * every occurrence of each declared token by its variable's value (plain string replacement).
 *
 * In an unreplaced render every token must be declared and every declared token must occur; after
 * replacement none may be left. Without an allow-list (the CLI) any token is a problem.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fieldPath, type PathSegment, type Problem } from './problems.ts';
import { describe } from './problems.ts';
import type { K8sObject } from './render.ts';

export const SENTINEL_PREFIX = 'surge-sentinel-';
const TOKEN = /^surge-sentinel-[a-z0-9-]+$/;
const LEFT = /surge-sentinel-[a-z0-9-]*/g;
export const SENTINELS_FILE = 'sentinels.env';

export interface Sentinel {
  token: string;
  variable: string;
}

export class SentinelFileError extends Error {
  readonly code = 'DEPLOY_SENTINELS_INVALID';
  readonly retryable = false;
}

/** Parses a sentinels.env; a malformed, duplicate or ambiguous line throws, naming file and line. */
export function parseSentinels(text: string, source = SENTINELS_FILE): Sentinel[] {
  const out: Sentinel[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const where = `${source}:${i + 1}`;
    const eq = line.indexOf('=');
    const token = line.slice(0, eq).trim();
    const variable = line.slice(eq + 1).trim();
    if (eq < 0 || !TOKEN.test(token))
      throw new SentinelFileError(
        `${where}: expected <token>=<VARIABLE> with token matching surge-sentinel-[a-z0-9-]+, got ${JSON.stringify(line)}`,
      );
    if (!/^[A-Z][A-Z0-9_]*$/.test(variable))
      throw new SentinelFileError(`${where}: ${token}: variable must be an upper-case shell name, got ${JSON.stringify(variable)}`);
    if (out.some((s) => s.token === token)) throw new SentinelFileError(`${where}: ${token} is declared twice`);
    out.push({ token, variable });
  });
  // plain replacement of a token that is a prefix of another would corrupt the longer one
  for (const a of out) {
    const b = out.find((s) => s !== a && s.token.startsWith(a.token));
    if (b) throw new SentinelFileError(`${source}: ${a.token} is a prefix of ${b.token}: replacing it would corrupt the longer token`);
  }
  return out;
}

/** The overlay's declared sentinels, or undefined when it has no sentinels.env. */
export async function loadSentinels(dir: string): Promise<Sentinel[] | undefined> {
  const file = path.join(dir, SENTINELS_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return parseSentinels(text, file);
}

/** Every string (keys included) in an object, with its path. */
function* strings(value: unknown, at: PathSegment[] = []): Generator<{ at: PathSegment[]; text: string }> {
  if (typeof value === 'string') yield { at, text: value };
  else if (Array.isArray(value)) for (const [i, v] of value.entries()) yield* strings(v, [...at, i]);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k.includes(SENTINEL_PREFIX)) yield { at: [...at, k], text: k };
      yield* strings(v, [...at, k]);
    }
  }
}

/**
 * Sentinel tokens left in the objects. `declared` (an unreplaced overlay's tokens) are allowed, and
 * each of them must occur; a token outside the list is a problem either way.
 */
export function checkSentinels(objects: K8sObject[], declared: readonly string[] = [], declaredIn = SENTINELS_FILE): Problem[] {
  const out: Problem[] = [];
  const allowed = [...declared].sort((a, b) => b.length - a.length);
  const seen = new Set<string>();
  for (const obj of objects) {
    for (const { at, text } of strings(obj)) {
      if (!text.includes(SENTINEL_PREFIX)) continue;
      let rest = text;
      for (const token of allowed) {
        if (rest.includes(token)) seen.add(token);
        rest = rest.replaceAll(token, '');
      }
      for (const [left] of rest.matchAll(LEFT)) {
        out.push({
          object: describe(obj),
          field: fieldPath(at),
          rule: 'sentinel-replaced',
          message:
            declared.length > 0
              ? `"${left}" is not declared in ${declaredIn}`
              : `"${left}" is a placeholder that was never replaced (the runbook fills it in from ${SENTINELS_FILE})`,
        });
      }
    }
  }
  for (const token of declared) {
    if (!seen.has(token))
      out.push({ object: declaredIn, field: token, rule: 'sentinel-used', message: `declared but does not occur in the render` });
  }
  return out;
}

/** What a runbook does: every occurrence of each token replaced by its value. */
export function replaceSentinels(text: string, values: ReadonlyMap<string, string>): string {
  let out = text;
  for (const [token, value] of [...values].sort((a, b) => b[0].length - a[0].length)) out = out.replaceAll(token, value);
  return out;
}

/** A plausible stand-in for a runbook variable, chosen by its name (for tests of the replaced render). */
export function dummyValue(variable: string, index = 0): string {
  const v = variable.toUpperCase();
  const n = String(index + 1).padStart(12, '0');
  if (/REGISTRY|LOGIN_SERVER/.test(v)) return v.includes('ECR') ? '123456789012.dkr.ecr.eu-west-1.amazonaws.com' : 'example.azurecr.io';
  if (/(^|_)(TAG|VERSION)$/.test(v)) return '0.1.0';
  if (/(CLIENT|TENANT|SUBSCRIPTION|OBJECT|PRINCIPAL|APP)_ID$|UUID|GUID/.test(v)) return `00000000-0000-4000-8000-${n}`;
  if (/ARN$/.test(v)) return 'arn:aws:iam::123456789012:role/surge-example';
  if (/ACCOUNT_ID$/.test(v)) return '123456789012';
  if (/REGION$/.test(v)) return 'eu-west-1';
  if (/LOCATION$/.test(v)) return 'westeurope';
  if (/URL$/.test(v)) return 'https://example.invalid/';
  // the default is a DNS label, valid wherever the token itself was
  const label = `example-${v.toLowerCase().replaceAll('_', '-')}`.slice(0, 63).replace(/-+$/, '');
  return label;
}
