/**
 * The one shape every check reports in: which object, which field, which rule, and why.
 * `field` is a dotted path with `[n]` for list items (`spec.template.spec.containers[0].image`);
 * keys that are not plain identifiers are quoted (`metadata.labels["app.kubernetes.io/name"]`).
 */
import type { K8sObject } from './render.ts';

export interface Problem {
  object: string;
  field?: string;
  rule: string;
  message: string;
}

/** Kind/namespace/name (Kind/name for cluster-scoped or namespace-less objects). */
export function describe(obj: K8sObject): string {
  return `${obj.kind}/${obj.metadata.namespace ? `${obj.metadata.namespace}/` : ''}${obj.metadata.name}`;
}

export type PathSegment = string | number;

export function fieldPath(segments: readonly PathSegment[]): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(s)) out += out === '' ? s : `.${s}`;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

/** An ajv instancePath (JSON pointer) as path segments; all-digit segments are list indexes. */
export function pointerSegments(pointer: string): PathSegment[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

export function formatProblem(p: Problem, file?: string): string {
  return `${file ? `${file}: ` : ''}${p.object}${p.field ? ` ${p.field}` : ''}: [${p.rule}] ${p.message}`;
}

export function formatIssues(problems: readonly Problem[]): string {
  return problems.map((p) => formatProblem(p)).join('\n');
}

/** The candidate nearest to a misspelt name (case-insensitive, edit distance ≤ 2), for "did you mean". */
export function closest(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of candidates) {
    const d = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++)
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length]!;
}

export function didYouMean(name: string, candidates: Iterable<string>): string {
  const near = closest(name, candidates);
  return near && near !== name ? ` (did you mean "${near}"?)` : '';
}
