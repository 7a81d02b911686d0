/**
 * A parser for the Prometheus text exposition format (what prom-client serves), enough to compare
 * an app's `/metrics` with the catalogue: metric families from `# HELP`/`# TYPE`, and their samples
 * with labels. Deliberately independent of prom-client, so it checks what is on the wire.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  /** The sample's own name (`x_bucket`, `x_sum`… for a histogram). */
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  type: MetricType;
  help: string;
  samples: Sample[];
}

export class ExpositionError extends Error {
  readonly code = 'E2E_BAD_EXPOSITION';
  readonly retryable = false;
}

const TYPES = new Set<string>(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const SUFFIXES: Partial<Record<MetricType, string[]>> = {
  histogram: ['_bucket', '_sum', '_count', '_created'],
  summary: ['_sum', '_count', '_created'],
  counter: ['_created'],
};

/** `{a="x",b="y\"z"}` → `{ a: 'x', b: 'y"z' }`; `text` starts at the `{`. Returns the labels and the index after `}`. */
function parseLabels(text: string, start: number, line: string): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = start + 1;
  for (;;) {
    while (text[i] === ' ' || text[i] === ',') i++;
    if (text[i] === '}') return { labels, end: i + 1 };
    const name = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(text.slice(i))?.[0];
    if (!name || text[i + name.length] !== '=' || text[i + name.length + 1] !== '"')
      throw new ExpositionError(`bad label set in ${JSON.stringify(line)}`);
    i += name.length + 2;
    let value = '';
    for (; i < text.length && text[i] !== '"'; i++) {
      if (text[i] === '\\') {
        i++;
        value += text[i] === 'n' ? '\n' : text[i];
      } else value += text[i];
    }
    if (i >= text.length) throw new ExpositionError(`unterminated label value in ${JSON.stringify(line)}`);
    labels[name] = value;
    i++;
  }
}

/** The families of an exposition, by name. Samples are attached to the family their name belongs to. */
export function parseExposition(text: string): Map<string, MetricFamily> {
  const families = new Map<string, MetricFamily>();
  const family = (name: string): MetricFamily => {
    let found = families.get(name);
    if (!found) families.set(name, (found = { name, type: 'untyped', help: '', samples: [] }));
    return found;
  };
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const meta = /^#\s+(HELP|TYPE)\s+([a-zA-Z_:][a-zA-Z0-9_:]*)\s?(.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      if (kind === 'HELP') family(name).help = rest;
      else {
        if (!TYPES.has(rest.trim())) throw new ExpositionError(`unknown type in ${JSON.stringify(line)}`);
        family(name).type = rest.trim() as MetricType;
      }
      continue;
    }
    if (line.startsWith('#')) continue;
    const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0];
    if (!name) throw new ExpositionError(`bad sample line ${JSON.stringify(line)}`);
    let labels: Record<string, string> = {};
    let rest = line.slice(name.length);
    if (rest.startsWith('{')) {
      const parsed = parseLabels(line, name.length, line);
      labels = parsed.labels;
      rest = line.slice(parsed.end);
    }
    const value = Number(rest.trim().split(/\s+/)[0]);
    if (rest.trim() === '' || (Number.isNaN(value) && !/^\s*nan\b/i.test(rest)))
      throw new ExpositionError(`bad sample value in ${JSON.stringify(line)}`);
    family(familyOf(name, families)).samples.push({ name, labels, value });
  }
  return families;
}

/** The family a sample name belongs to: itself, or a histogram/summary whose suffix it carries. */
function familyOf(sample: string, families: Map<string, MetricFamily>): string {
  if (families.has(sample)) return sample;
  for (const [name, fam] of families) {
    if ((SUFFIXES[fam.type] ?? []).some((suffix) => sample === name + suffix)) return name;
  }
  return sample;
}

/** Label names used by a family's samples, without the histogram/summary ones (`le`, `quantile`). */
export function labelNamesOf(family: MetricFamily): Set<string> {
  const names = new Set<string>();
  for (const sample of family.samples)
    for (const name of Object.keys(sample.labels)) if (name !== 'le' && name !== 'quantile') names.add(name);
  return names;
}

/** The value of the one sample with exactly these labels (others ignored), or undefined. */
export function sampleValue(families: Map<string, MetricFamily>, sample: string, labels: Record<string, string> = {}): number | undefined {
  for (const family of families.values()) {
    for (const s of family.samples) {
      if (s.name === sample && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) return s.value;
    }
  }
  return undefined;
}
