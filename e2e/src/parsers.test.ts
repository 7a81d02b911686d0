import { describe, expect, it } from 'vitest';
import { CatalogueError, parseCatalogue, rowForSeries } from './catalogue.ts';
import { ExpositionError, labelNamesOf, parseExposition, sampleValue } from './exposition.ts';
import { metricNames, parseLabelValuesQuery } from './promql.ts';

describe('parseExposition', () => {
  const text = [
    '# HELP a_total Things, with "quotes".',
    '# TYPE a_total counter',
    'a_total{code="x\\"y",app="p"} 3',
    '# HELP h_seconds Latency.',
    '# TYPE h_seconds histogram',
    'h_seconds_bucket{le="0.1"} 1',
    'h_seconds_bucket{le="+Inf"} 2',
    'h_seconds_sum 0.3',
    'h_seconds_count 2',
    '# TYPE g gauge',
    'g NaN',
    '',
  ].join('\n');

  it('groups samples into families with type, help and labels', () => {
    const families = parseExposition(text);
    expect([...families.keys()]).toEqual(['a_total', 'h_seconds', 'g']);
    expect(families.get('a_total')).toMatchObject({ type: 'counter', help: 'Things, with "quotes".' });
    expect(families.get('h_seconds')!.samples).toHaveLength(4);
    expect([...labelNamesOf(families.get('a_total')!)]).toEqual(['code', 'app']);
    expect([...labelNamesOf(families.get('h_seconds')!)]).toEqual([]);
    expect(sampleValue(families, 'a_total', { code: 'x"y' })).toBe(3);
    expect(sampleValue(families, 'h_seconds_count')).toBe(2);
    expect(sampleValue(families, 'a_total', { code: 'other' })).toBeUndefined();
  });

  it('rejects broken lines', () => {
    expect(() => parseExposition('x{a="1" 2')).toThrow(ExpositionError);
    expect(() => parseExposition('# TYPE x thing')).toThrow(ExpositionError);
    expect(() => parseExposition('x')).toThrow(ExpositionError);
  });
});

describe('parseCatalogue', () => {
  const table = (rows: string[]) =>
    ['intro', '', '| metric | type | labels | app | meaning |', '| --- | --- | --- | --- | --- |', ...rows, '', 'after'].join('\n');

  it('reads names, types, label names (not the values in parentheses), apps and groups', () => {
    const rows = parseCatalogue(
      table([
        '| `x_total` | counter | `code` (`A`, `B`), `queue` | producer, worker-job (not served) | x |',
        '| `h_seconds` | histogram | | exporter | h |',
        "| `process_*`, `nodejs_*` | group | (the app's) | producer | defaults |",
      ]),
    );
    expect(rows[0]).toMatchObject({
      names: ['x_total'],
      type: 'counter',
      labels: ['code', 'queue'],
      apps: ['producer'],
      notServed: ['worker-job'],
    });
    expect(rows[2]).toMatchObject({ names: [], patterns: ['process_*', 'nodejs_*'], type: 'group', labels: [] });
    expect(rowForSeries(rows, 'h_seconds_bucket')?.names).toEqual(['h_seconds']);
    expect(rowForSeries(rows, 'x_total_bucket')).toBeUndefined();
  });

  it('rejects a missing table, duplicates, unknown types and several metrics in one row', () => {
    expect(() => parseCatalogue('no table')).toThrow(CatalogueError);
    expect(() => parseCatalogue(table(['| `a` | gauge | | p | x |', '| `a` | gauge | | p | y |']))).toThrow(/twice/);
    expect(() => parseCatalogue(table(['| `a` | meter | | p | x |']))).toThrow(/type/);
    expect(() => parseCatalogue(table(['| `a`, `b` | gauge | | p | x |']))).toThrow(/one metric/);
    expect(() => parseCatalogue(table(['| `a_*` | gauge | | p | x |']))).toThrow(/group/);
  });
});

describe('metricNames', () => {
  it('finds metric names, not functions, labels, keywords, variables or durations', () => {
    expect(
      metricNames('histogram_quantile(0.95, sum by (le) (rate(x_seconds_bucket{namespace=~"$namespace", job="a"}[$__rate_interval])))'),
    ).toEqual(['x_seconds_bucket']);
    expect(metricNames('sum(a{q="b"}) / on (q) group_left (c) max by (q) (b_total offset 5m) and c')).toEqual(['a', 'b_total', 'c']);
    expect(metricNames('sum(rate(a_total[5m])) by (code) > bool 0')).toEqual(['a_total']);
  });

  it('splits label_values queries', () => {
    expect(parseLabelValuesQuery('label_values(m{namespace=~"$namespace"}, queue)')).toEqual({
      selector: 'm{namespace=~"$namespace"}',
      label: 'queue',
    });
    expect(parseLabelValuesQuery('query_result(up)')).toBeUndefined();
  });
});
