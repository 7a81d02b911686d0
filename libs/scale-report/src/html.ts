/**
 * The report as one self-contained HTML file: inline CSS and SVG, system fonts, no script, no network
 * request of any kind, so it opens from a file, an artifact store or a mail attachment alike.
 */
import { totalReplicas } from './figures.ts';
import type { ClusterSection, ScaleReport, TimelineSample } from './types.ts';

export const COLORS = ['#2563eb', '#d97706', '#059669', '#7c3aed', '#db2777'];
const DEPTH_COLOR = '#0f766e';
const INFLIGHT_COLOR = '#94a3b8';

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

export function fmtSeconds(value: number | null): string {
  if (value === null) return '—';
  if (value < 120) return `${value.toFixed(1)} s`;
  return `${Math.floor(value / 60)} min ${Math.round(value % 60)} s`;
}

export function fmtMs(value: number): string {
  return value < 1000 ? `${Math.round(value)} ms` : `${(value / 1000).toFixed(2)} s`;
}

function niceMax(value: number): number {
  if (value <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (value <= step * magnitude) return step * magnitude;
  return 10 * magnitude;
}

/** 1, 2 or 5 × 10^k, and at least 1: counts get whole-number ticks. */
function niceStep(raw: number): number {
  if (raw <= 1) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  for (const step of [1, 2, 5, 10]) if (raw <= step * magnitude) return step * magnitude;
  return 10 * magnitude;
}

export interface Series {
  readonly label: string;
  readonly color: string;
  readonly points: readonly (readonly [number, number | null])[];
  /** Step lines for counts that change at an instant (replicas). */
  readonly step: boolean;
  readonly fill?: boolean;
  readonly dashed?: boolean;
}

export interface Marker {
  readonly atSeconds: number;
  readonly label: string;
}

const W = 880;
const H = 240;
const PAD = { left: 56, right: 16, top: 16, bottom: 34 };

/** One chart: x = seconds since start, y from 0; gaps (null) break the line. */
export function chart(
  title: string,
  series: readonly Series[],
  durationSeconds: number,
  markers: readonly Marker[],
  yLabel: string,
): string {
  const yStep = niceStep(Math.max(1, ...series.flatMap((s) => s.points.map(([, y]) => y ?? 0))) / 4);
  const maxY = yStep * Math.max(1, Math.ceil(Math.max(1, ...series.flatMap((s) => s.points.map(([, y]) => y ?? 0))) / yStep));
  const maxX = Math.max(1, durationSeconds);
  const x = (t: number) => PAD.left + (t / maxX) * (W - PAD.left - PAD.right);
  const y = (v: number) => H - PAD.bottom - (v / maxY) * (H - PAD.top - PAD.bottom);
  const parts: string[] = [];

  for (let v = 0; v <= maxY + 1e-9; v += yStep) {
    parts.push(`<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" class="grid"/>`);
    parts.push(
      `<text x="${PAD.left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" class="tick">${Number.isInteger(v) ? v : v.toFixed(1)}</text>`,
    );
  }
  const xStep = niceMax(maxX / 8);
  for (let t = 0; t <= maxX + 1e-9; t += xStep) {
    parts.push(`<text x="${x(t).toFixed(1)}" y="${H - PAD.bottom + 16}" text-anchor="middle" class="tick">${Math.round(t)}s</text>`);
  }
  parts.push(
    `<text x="14" y="${PAD.top + (H - PAD.top - PAD.bottom) / 2}" transform="rotate(-90 14 ${PAD.top + (H - PAD.top - PAD.bottom) / 2})" text-anchor="middle" class="tick">${escapeHtml(yLabel)}</text>`,
  );

  for (const marker of markers) {
    const mx = x(marker.atSeconds).toFixed(1);
    parts.push(`<line x1="${mx}" x2="${mx}" y1="${PAD.top}" y2="${H - PAD.bottom}" class="marker"/>`);
    parts.push(`<text x="${mx}" y="${PAD.top - 4}" text-anchor="middle" class="marker-label">${escapeHtml(marker.label)}</text>`);
  }

  for (const s of series) {
    const segments: string[][] = [];
    let current: string[] = [];
    let previousY: number | null = null;
    for (const [t, v] of s.points) {
      if (v === null) {
        if (current.length > 0) segments.push(current);
        current = [];
        previousY = null;
        continue;
      }
      if (s.step && previousY !== null) current.push(`${x(t).toFixed(1)},${y(previousY).toFixed(1)}`);
      current.push(`${x(t).toFixed(1)},${y(v).toFixed(1)}`);
      previousY = v;
    }
    if (current.length > 0) segments.push(current);
    for (const segment of segments) {
      if (s.fill && segment.length > 1) {
        const first = segment[0]!.split(',')[0];
        const last = segment[segment.length - 1]!.split(',')[0];
        parts.push(
          `<polygon points="${first},${y(0)} ${segment.join(' ')} ${last},${y(0)}" fill="${s.color}" fill-opacity="0.18" stroke="none"/>`,
        );
      }
      parts.push(
        `<polyline points="${segment.join(' ')}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 4"' : ''}/>`,
      );
    }
  }

  const legend = series
    .map(
      (s) =>
        `<span class="legend"><svg width="18" height="10" aria-hidden="true"><line x1="0" x2="18" y1="5" y2="5" stroke="${s.color}" stroke-width="3"${s.dashed ? ' stroke-dasharray="4 3"' : ''}/></svg>${escapeHtml(s.label)}</span>`,
    )
    .join('');
  return `<figure><figcaption>${escapeHtml(title)} ${legend}</figcaption><svg viewBox="0 0 ${W} ${H}" width="100%" role="img" aria-label="${escapeHtml(title)}">${parts.join('')}</svg></figure>`;
}

function points(
  timeline: readonly TimelineSample[],
  startedAt: number,
  pick: (s: TimelineSample) => number | null | undefined,
): [number, number | null][] {
  return timeline.map((s) => [(s.at - startedAt) / 1000, pick(s) ?? null]);
}

/** The page style both the report and the comparison use. */
export const STYLE = `
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:24px auto;max-width:920px;color:#111827;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}.muted{color:#6b7280;font-size:13px}
.cards{display:grid;grid-template-columns:repeat(6,1fr);gap:8px;margin:16px 0}
.card{border:1px solid #e5e7eb;border-radius:8px;padding:8px 10px}.card .label{font-size:11px;color:#6b7280;text-transform:uppercase;letter-spacing:.03em}
.card .value{font-size:18px;font-weight:600;margin-top:2px}.card .hint{font-size:11px;color:#6b7280;min-height:14px}
.card.good .value{color:#047857}.card.bad .value{color:#b91c1c}
figure{margin:12px 0}figcaption{font-size:13px;font-weight:600;margin-bottom:4px}
.legend{font-weight:400;color:#374151;margin-left:12px;white-space:nowrap}.legend svg{margin-right:4px;vertical-align:middle}
.grid{stroke:#e5e7eb;stroke-width:1}.tick{font-size:11px;fill:#6b7280}
.marker{stroke:#9ca3af;stroke-dasharray:2 3}.marker-label{font-size:10px;fill:#6b7280}
.cols{display:grid;grid-template-columns:1fr 1fr;gap:24px}
table{border-collapse:collapse;width:100%;font-size:13px}th{text-align:left;font-weight:400;color:#374151;padding:3px 8px 3px 0}td{text-align:right;font-variant-numeric:tabular-nums;padding:3px 0}
tr{border-bottom:1px solid #f3f4f6}
`;

/** A simulated run's cluster: nodes and pending pods over time, what pods waited for, node-hours and cost. */
function clusterPanels(cluster: ClusterSection, t0: number, durationSeconds: number, markers: readonly Marker[]): string {
  const at = (pick: (s: ClusterSection['timeline'][number]) => number) =>
    cluster.timeline.map((s): [number, number | null] => [(s.at - t0) / 1000, pick(s)]);
  const nodeSeries: Series[] = [
    { label: 'nodes ready', color: COLORS[0] as string, points: at((s) => s.nodesReady), step: true },
    {
      label: 'nodes provisioning',
      color: COLORS[1 % COLORS.length] as string,
      points: at((s) => s.nodesProvisioning),
      step: true,
      dashed: true,
    },
    { label: 'nodes evicted (total)', color: '#b91c1c', points: at((s) => s.nodesEvicted), step: true, dashed: true },
  ];
  const pendingSeries: Series[] = [
    { label: 'pending pods', color: INFLIGHT_COLOR, points: at((s) => s.pendingPods), step: true, fill: true },
  ];
  const rows = cluster.bottlenecks
    .map(
      (b) =>
        `<tr><th>${escapeHtml(fmtSeconds(b.fromSeconds))} → ${escapeHtml(fmtSeconds(b.toSeconds))}</th><td class="left">${escapeHtml(b.waitingFor)}</td><td>${b.pods}</td></tr>`,
    )
    .join('');
  const summary = [
    ['profile', cluster.profile],
    ['node-hours (modelled)', cluster.nodeHours.toFixed(2)],
    ['peak nodes (modelled)', String(cluster.peakNodes)],
    ['pods evicted (modelled)', String(cluster.podsEvicted)],
    [
      'cost (modelled)',
      cluster.cost === null
        ? '— (give --price-per-node-hour)'
        : `${cluster.cost.total.toFixed(2)} at ${cluster.cost.pricePerNodeHour} per node-hour`,
    ],
  ]
    .map(([k, v]) => `<tr><th>${escapeHtml(k as string)}</th><td>${escapeHtml(v as string)}</td></tr>`)
    .join('');
  return `<h2>Cluster (modelled by the simulator, not measured)</h2>
${chart('Nodes', nodeSeries, durationSeconds, markers, 'nodes')}
${chart('Pending pods', pendingSeries, durationSeconds, markers, 'pods')}
<div class="cols"><div><h2>Bottleneck by phase</h2><table><tbody>${rows || '<tr><th>none</th><td></td></tr>'}</tbody></table></div>
<div><h2>Cost</h2><table><tbody>${summary}</tbody></table></div></div>`;
}

export function renderHtml(report: ScaleReport): string {
  const { figures, accounting, latency } = report;
  const t0 = report.startedAt;
  const markers: Marker[] = [];
  if (figures.timeToFirstWorkerSeconds !== null) markers.push({ atSeconds: figures.timeToFirstWorkerSeconds, label: 'first worker' });
  if (figures.peak !== null) markers.push({ atSeconds: figures.peak.atSeconds, label: 'peak' });
  if (figures.queueDrainedAtSeconds !== null) markers.push({ atSeconds: figures.queueDrainedAtSeconds, label: 'drained' });
  if (figures.backToZeroAtSeconds !== null) markers.push({ atSeconds: figures.backToZeroAtSeconds, label: 'zero' });

  const hasSplit = report.timeline.some((s) => s.inFlight !== null && s.ready !== null);
  const depthSeries: Series[] = [
    {
      label: 'queue depth (ready + in flight)',
      color: DEPTH_COLOR,
      points: points(report.timeline, t0, (s) => s.depth),
      step: false,
      fill: true,
    },
  ];
  if (hasSplit)
    depthSeries.push({
      label: 'in flight',
      color: INFLIGHT_COLOR,
      points: points(report.timeline, t0, (s) => s.inFlight),
      step: false,
      dashed: true,
    });
  const replicaSeries: Series[] = report.workloads.map((w, i) => ({
    label: `${w} running`,
    color: COLORS[i % COLORS.length] as string,
    points: points(report.timeline, t0, (s) => s.replicas[w]),
    step: true,
  }));
  report.workloads.forEach((w, i) => {
    if (report.timeline.some((s) => s.desired?.[w] !== undefined && s.desired[w] !== null)) {
      replicaSeries.push({
        label: `${w} desired`,
        color: COLORS[i % COLORS.length] as string,
        points: points(report.timeline, t0, (s) => s.desired?.[w]),
        step: true,
        dashed: true,
      });
    }
  });
  if (report.workloads.length > 1)
    replicaSeries.push({
      label: 'all running',
      color: '#111827',
      points: points(report.timeline, t0, totalReplicas),
      step: true,
      dashed: true,
    });

  const card = (label: string, value: string, hint = '', cls = '') =>
    `<div class="card ${cls}"><div class="label">${escapeHtml(label)}</div><div class="value">${escapeHtml(value)}</div><div class="hint">${escapeHtml(hint)}</div></div>`;
  const cards = [
    card(
      'time to first worker',
      fmtSeconds(figures.timeToFirstWorkerSeconds),
      figures.timeToFirstResultSeconds === null ? '' : `first result at ${fmtSeconds(figures.timeToFirstResultSeconds)}`,
    ),
    card(
      'peak replicas',
      figures.peak ? String(figures.peak.replicas) : '—',
      figures.peak ? `at ${fmtSeconds(figures.peak.atSeconds)}` : '',
    ),
    card('queue drained', fmtSeconds(figures.queueDrainedAtSeconds), figures.maxDepth !== null ? `max depth ${figures.maxDepth}` : ''),
    card('back to zero', fmtSeconds(figures.backToZeroAtSeconds)),
    card(
      'latency p50 / p95',
      latency ? `${fmtMs(latency.p50Ms)} / ${fmtMs(latency.p95Ms)}` : '—',
      latency ? `enqueue → result, ${latency.count} results` : '',
    ),
    accounting
      ? card(
          'lost',
          String(accounting.lost),
          `sent ${accounting.sent} · results ${accounting.results}`,
          accounting.lost === 0 ? 'good' : 'bad',
        )
      : '',
  ].join('');

  const accountingTable = accounting
    ? `<table><tbody>${(
        [
          ['sent (broker-confirmed)', accounting.sent],
          ['distinct results', accounting.results],
          ['duplicates (kept out of the store)', accounting.duplicates],
          ['dead-lettered', accounting.deadLettered],
          ['lost = sent − results − dead-lettered', accounting.lost],
        ] as const
      )
        .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${v}</td></tr>`)
        .join('')}</tbody></table>`
    : '<p class="muted">No accounting: this report was drawn from metrics only.</p>';
  const peaks = figures.peaks
    .map((p) => `<tr><th>${escapeHtml(p.workload)}</th><td>${p.replicas} at ${fmtSeconds(p.atSeconds)}</td></tr>`)
    .join('');
  const settings = Object.entries(report.settings)
    .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(String(v))}</td></tr>`)
    .join('');
  const notes = report.notes.length > 0 ? `<h2>Notes</h2><ul>${report.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>` : '';

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(report.title)}</title>
<style>${STYLE}</style></head><body>
<h1>${escapeHtml(report.title)}</h1>
<div class="muted">${escapeHtml(report.source)} · ${escapeHtml(new Date(report.startedAt).toISOString())} → ${escapeHtml(new Date(report.endedAt).toISOString())} · ${fmtSeconds(figures.durationSeconds)}</div>
<div class="cards">${cards}</div>
${chart('Queue depth', depthSeries, figures.durationSeconds, markers, 'messages')}
${chart('Replicas', replicaSeries, figures.durationSeconds, markers, 'pods')}
${report.cluster ? clusterPanels(report.cluster, t0, figures.durationSeconds, markers) : ''}
<div class="cols"><div><h2>Accounting</h2>${accountingTable}<h2>Peaks</h2><table><tbody>${peaks || '<tr><th>none</th><td></td></tr>'}</tbody></table></div>
<div><h2>Settings</h2><table><tbody>${settings}</tbody></table></div></div>
${notes}
</body></html>
`;
}
