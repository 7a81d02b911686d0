/**
 * Reads the metrics catalogue (`docs/metrics.md`): the one markdown table whose header is
 * `| metric | type | labels | app | meaning |`, one row per metric family. A row whose metric cell
 * holds patterns (`process_*`, `nodejs_*`) is a group of metrics documented once (prom-client's
 * defaults). In the labels cell, label names are the backticked words outside parentheses (the
 * parentheses list values). An app followed by `(not served)` declares a metric it has but does
 * not expose.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { MetricType } from './exposition.ts';
import { REPO_ROOT } from './paths.ts';

export const CATALOGUE_PATH = path.join(REPO_ROOT, 'docs', 'metrics.md');

export interface CatalogueRow {
  /** Exact metric names (empty for a group). */
  names: string[];
  /** Group patterns like `process_*` (empty for a single metric). */
  patterns: string[];
  type: MetricType | 'group';
  labels: string[];
  /** Apps that serve it. */
  apps: string[];
  /** Apps that have it but do not serve it. */
  notServed: string[];
  meaning: string;
  line: number;
}

export class CatalogueError extends Error {
  readonly code = 'E2E_BAD_CATALOGUE';
  readonly retryable = false;
}

const HEADER = ['metric', 'type', 'labels', 'app', 'meaning'];
const ROW_TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'group']);
const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const PATTERN = /^[a-zA-Z_:][a-zA-Z0-9_:]*\*$/;

function cells(line: string): string[] {
  return line
    .trim()
    .replace(/^\|/, '')
    .replace(/\|$/, '')
    .split('|')
    .map((c) => c.trim());
}

const backticked = (text: string): string[] => [...text.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);

export function parseCatalogue(markdown: string): CatalogueRow[] {
  const lines = markdown.split('\n');
  const start = lines.findIndex(
    (l) =>
      l.trim().startsWith('|') &&
      cells(l)
        .map((c) => c.toLowerCase())
        .join('|') === HEADER.join('|'),
  );
  if (start < 0) throw new CatalogueError(`no table with the header | ${HEADER.join(' | ')} |`);
  const rows: CatalogueRow[] = [];
  for (let i = start + 2; i < lines.length && lines[i]!.trim().startsWith('|'); i++) {
    const where = `line ${i + 1}`;
    const [metric = '', type = '', labels = '', app = '', meaning = ''] = cells(lines[i]!);
    if (cells(lines[i]!).length !== HEADER.length) throw new CatalogueError(`${where}: expected ${HEADER.length} cells`);
    const tokens = backticked(metric);
    const names = tokens.filter((t) => NAME.test(t));
    const patterns = tokens.filter((t) => PATTERN.test(t));
    if (tokens.length === 0 || names.length + patterns.length !== tokens.length)
      throw new CatalogueError(`${where}: metric cell must hold backticked names or name_* patterns: ${metric}`);
    if (names.length > 0 && (names.length !== 1 || patterns.length > 0)) throw new CatalogueError(`${where}: one metric per row`);
    if (!ROW_TYPES.has(type)) throw new CatalogueError(`${where}: type ${JSON.stringify(type)} is not one of ${[...ROW_TYPES].join(', ')}`);
    if ((type === 'group') !== patterns.length > 0)
      throw new CatalogueError(`${where}: a group row has patterns and type "group"; a metric row has one name and its type`);
    const appEntries = app
      .split(',')
      .map((a) => a.trim())
      .filter(Boolean);
    if (appEntries.length === 0) throw new CatalogueError(`${where}: no app`);
    rows.push({
      names,
      patterns,
      type: type as CatalogueRow['type'],
      labels: backticked(labels.replace(/\([^)]*\)/g, '')),
      apps: appEntries.filter((a) => !/\(not served\)/i.test(a)),
      notServed: appEntries.filter((a) => /\(not served\)/i.test(a)).map((a) => a.replace(/\(not served\)/i, '').trim()),
      meaning,
      line: i + 1,
    });
  }
  const seen = new Set<string>();
  for (const row of rows) {
    for (const name of row.names) {
      if (seen.has(name)) throw new CatalogueError(`line ${row.line}: ${name} is listed twice`);
      seen.add(name);
    }
  }
  return rows;
}

export async function readCatalogue(file = CATALOGUE_PATH): Promise<CatalogueRow[]> {
  return parseCatalogue(await readFile(file, 'utf8'));
}

/** Whether a group pattern (`process_*`) covers a metric name. */
export function patternCovers(pattern: string, name: string): boolean {
  return name.startsWith(pattern.slice(0, -1));
}

/** Histograms and summaries are queried through their series suffixes; map a series name to its catalogue row. */
export function rowForSeries(rows: readonly CatalogueRow[], series: string): CatalogueRow | undefined {
  for (const row of rows) {
    for (const name of row.names) {
      if (series === name) return row;
      if (row.type === 'histogram' && ['_bucket', '_sum', '_count'].some((s) => series === name + s)) return row;
      if (row.type === 'summary' && ['_sum', '_count'].some((s) => series === name + s)) return row;
    }
  }
  return undefined;
}
