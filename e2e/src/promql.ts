/**
 * Metric names used by a PromQL expression as Grafana stores it (with `$variables`): enough to check
 * a dashboard against the catalogue, not a PromQL parser. Strings, label matchers, ranges and
 * grouping label lists are removed; what remains that is an identifier, not a function call and not
 * a keyword, is a metric name.
 */

const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'offset',
  'atan2',
  'inf',
  'nan',
]);

/** Grafana's `$var`, `${var}`, `${var:fmt}` and `[[var]]` replaced so the text is plain PromQL. */
export function withoutGrafanaVariables(expr: string): string {
  return expr.replace(/\$__(rate_interval|interval|range)\b/g, '5m').replace(/\$\{[^}]*\}|\$[a-zA-Z_][a-zA-Z0-9_]*|\[\[[^\]]*\]\]/g, 'x');
}

export function metricNames(expr: string): string[] {
  let text = withoutGrafanaVariables(expr);
  text = text.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""');
  text = text.replace(/\{[^}]*\}/g, ' ');
  text = text.replace(/\[[^\]]*\]/g, ' ');
  text = text.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const match of text.matchAll(/(?<![a-zA-Z0-9_:.])[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const name = match[0];
    const after = text.slice(match.index + name.length).trimStart();
    if (after.startsWith('(') || KEYWORDS.has(name.toLowerCase())) continue;
    names.add(name);
  }
  return [...names];
}

/** Grafana's Prometheus variable query `label_values(<selector>, <label>)` → its parts, or undefined. */
export function parseLabelValuesQuery(query: string): { selector: string; label: string } | undefined {
  const match = /^\s*label_values\(\s*(.*?)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$/s.exec(query);
  return match ? { selector: match[1]!, label: match[2]! } : undefined;
}
