/**
 * deploy/grafana/surge-dashboard.json against the metrics catalogue: every metric an expression or a
 * variable query uses is a catalogued Surge metric (or an allowed kube-state-metrics one), rates are
 * taken of counters only, the variables exist, and promtool accepts every expression as PromQL.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  REPO_ROOT,
  metricNames,
  parseLabelValuesQuery,
  readCatalogue,
  rowForSeries,
  tempDir,
  withoutGrafanaVariables,
  type CatalogueRow,
} from '../src/index.ts';

const DASHBOARD_PATH = path.join(REPO_ROOT, 'deploy', 'grafana', 'surge-dashboard.json');
/** kube-state-metrics series the dashboard may use (replicas against depth); everything else comes from docs/metrics.md. */
const KUBE_STATE_METRICS = new Set(['kube_deployment_status_replicas', 'kube_deployment_spec_replicas', 'kube_job_status_active']);

interface Target {
  expr?: string;
  refId?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id?: number;
  type: string;
  title?: string;
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
}
interface Variable {
  type: string;
  name: string;
  query: string | { query: string };
  datasource?: { type?: string; uid?: string };
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: Variable[] };
}

let dashboard: Dashboard;
let rows: CatalogueRow[];
const temp = tempDir('surge-e2e-dashboard-');

/** Panels, including those inside collapsed rows. */
const allPanels = (panels: Panel[]): Panel[] => panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
const exprs = (): { panel: string; expr: string }[] =>
  allPanels(dashboard.panels).flatMap((p) =>
    (p.targets ?? []).filter((t) => t.expr !== undefined).map((t) => ({ panel: p.title ?? String(p.id), expr: t.expr! })),
  );
const variable = (name: string) => dashboard.templating.list.find((v) => v.name === name);
const queryOf = (v: Variable) => (typeof v.query === 'string' ? v.query : v.query.query);

beforeAll(async () => {
  dashboard = JSON.parse(await readFile(DASHBOARD_PATH, 'utf8')) as Dashboard;
  rows = await readCatalogue();
});
afterAll(() => temp.remove());

/** A metric name the dashboard may use: its catalogue row (served by some app), or a kube-state-metrics name. */
function problemWith(name: string): string | undefined {
  if (KUBE_STATE_METRICS.has(name)) return undefined;
  const row = rowForSeries(rows, name);
  if (!row) return `${name} is neither in docs/metrics.md nor an allowed kube-state-metrics series`;
  if (row.apps.length === 0) return `${name} is catalogued but served by no app`;
  return undefined;
}

describe('surge-dashboard.json', () => {
  it('is a current Grafana dashboard with unique panel ids, every panel on the ${datasource} variable', () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(39);
    expect(dashboard.uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
    const panels = allPanels(dashboard.panels);
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of panels.filter((p) => p.type !== 'row')) {
      expect(panel.datasource, panel.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      for (const target of panel.targets ?? [])
        expect(target.datasource ?? panel.datasource, `${panel.title} ${target.refId}`).toEqual({
          type: 'prometheus',
          uid: '${datasource}',
        });
    }
  });

  it('has the datasource, namespace and queue variables, the latter two from catalogued metrics', () => {
    expect(variable('datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    for (const [name, label] of [
      ['namespace', 'namespace'],
      ['queue', 'queue'],
    ] as const) {
      const v = variable(name);
      expect(v, name).toMatchObject({ type: 'query', datasource: { type: 'prometheus', uid: '${datasource}' } });
      const parsed = parseLabelValuesQuery(queryOf(v!));
      expect(parsed, queryOf(v!)).toMatchObject({ label });
      const used = metricNames(parsed!.selector);
      expect(used.length).toBeGreaterThan(0);
      expect(used.map(problemWith).filter(Boolean)).toEqual([]);
    }
    // the queue list follows the namespace selection
    expect(queryOf(variable('queue')!)).toContain('$namespace');
  });

  it('uses only metric names from docs/metrics.md (or the kube-state-metrics allow-list) in its expressions', () => {
    const all = exprs();
    expect(all.length).toBeGreaterThan(0);
    const problems = all.flatMap(({ panel, expr }) => {
      const names = metricNames(expr);
      if (names.length === 0) return [`${panel}: no metric found in ${expr}`];
      return names
        .map(problemWith)
        .filter((p): p is string => p !== undefined)
        .map((p) => `${panel}: ${p}`);
    });
    expect(problems).toEqual([]);
  });

  it('takes rate()/increase() of counters and histogram buckets only, never of gauges', () => {
    const problems: string[] = [];
    for (const { panel, expr } of exprs()) {
      for (const match of expr.matchAll(/\b(rate|irate|increase)\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)/g)) {
        const name = match[2]!;
        const row = rowForSeries(rows, name);
        if (KUBE_STATE_METRICS.has(name) || !row) continue; // reported by the names test
        const ok = row.type === 'counter' || (row.type === 'histogram' && name.endsWith('_bucket'));
        if (!ok) problems.push(`${panel}: ${match[1]}(${name}) over a ${row.type}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('shows the required panels: depth against replicas, processing rate, latency p50/p95, dead-letters, send rate', () => {
    const text = exprs()
      .map((e) => e.expr)
      .join('\n');
    for (const name of [
      'surge_queue_messages_ready',
      'surge_queue_messages_in_flight',
      'surge_queue_messages_dead_lettered',
      'kube_deployment_status_replicas',
      'kube_job_status_active',
      'surge_worker_messages_processed_total',
      'surge_worker_messages_dead_lettered_total',
      'surge_producer_messages_sent_total',
    ]) {
      expect(text, name).toContain(name);
    }
    expect(text).toMatch(/histogram_quantile\(0\.5,\s*sum by \(le\) \(rate\(surge_worker_end_to_end_seconds_bucket/);
    expect(text).toMatch(/histogram_quantile\(0\.95,\s*sum by \(le\) \(rate\(surge_worker_end_to_end_seconds_bucket/);
    // queue-level series are filtered by both variables, everything by namespace
    for (const expr of exprs().map((e) => e.expr)) {
      expect(expr, expr).toContain('namespace=~"$namespace"');
      if (/surge_queue_/.test(expr)) expect(expr, expr).toContain('queue=~"$queue"');
    }
  });

  const promtool = ['/usr/bin/promtool', '/usr/local/bin/promtool'].find((p) => existsSync(p));
  if (!promtool) console.warn('promtool not found (Debian package `prometheus`): the PromQL syntax check of the dashboard cannot run here');
  it.skipIf(!promtool)('every expression is valid PromQL (promtool check rules)', async () => {
    // Recording rules are the one promtool input that parses arbitrary expressions.
    const rules = {
      groups: [
        {
          name: 'dashboard',
          rules: exprs().map(({ expr }, i) => ({ record: `dashboard:expr_${i}`, expr: withoutGrafanaVariables(expr) })),
        },
      ],
    };
    const file = path.join(temp.dir, 'dashboard-rules.yml');
    await writeFile(file, JSON.stringify(rules, null, 2));
    const result = spawnSync(promtool!, ['check', 'rules', file], { encoding: 'utf8', timeout: 30_000 });
    expect(result.status, `${result.stdout}\n${result.stderr}`).toBe(0);
    expect(result.stdout).toContain(`${rules.groups[0]!.rules.length} rules found`);
  });
});
