/**
 * The same timeline, read back from a cluster's Prometheus over a time range: queue depth from the
 * exporter's `surge_queue_messages_*` gauges, replicas from kube-state-metrics
 * (`kube_deployment_status_replicas` for the ScaledObject's Deployment, `kube_job_status_active` summed
 * over the ScaledJob's Jobs). Every query is a `sum(...)`, so each returns at most one series.
 */
import { SurgeError } from '@surge/core';
import type { TimelineSample } from './types.ts';

export class PrometheusQueryError extends SurgeError {
  constructor(message: string, options: { retryable: boolean; cause?: unknown }) {
    super('PROMETHEUS_QUERY_FAILED', message, options);
  }
}

export interface PrometheusRangeOptions {
  /** `http://prometheus:9090` (may carry a path prefix); credentials in the URL are sent as basic auth by fetch. */
  readonly url: string;
  readonly start: number;
  readonly end: number;
  /** Seconds between points; default: the range / 250, at least 1 s. */
  readonly stepSeconds?: number;
  readonly namespace: string;
  readonly queue: string;
  /** Deployment scaled by the ScaledObject; null to leave it out. Default `worker-deployment`. */
  readonly deployment?: string | null;
  /** ScaledJob name: its Jobs are `<name>-<suffix>`; null to leave it out. Default `worker-job`. */
  readonly scaledJob?: string | null;
  /** Extra headers (e.g. `Authorization: Bearer …` for a managed Prometheus). Never logged. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly fetch?: typeof fetch;
  readonly timeoutMs?: number;
}

/** PromQL label values are double-quoted strings: escape backslashes and quotes. */
function label(value: string): string {
  return JSON.stringify(value);
}

function regexLiteral(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function prometheusQueries(options: Pick<PrometheusRangeOptions, 'namespace' | 'queue' | 'deployment' | 'scaledJob'>): {
  ready: string;
  inFlight: string;
  deadLettered: string;
  workloads: Record<string, string>;
} {
  const queue = `queue=${label(options.queue)}`;
  const ns = `namespace=${label(options.namespace)}`;
  const workloads: Record<string, string> = {};
  const deployment = options.deployment === undefined ? 'worker-deployment' : options.deployment;
  const scaledJob = options.scaledJob === undefined ? 'worker-job' : options.scaledJob;
  if (scaledJob !== null) workloads[scaledJob] = `sum(kube_job_status_active{${ns},job_name=~${label(`${regexLiteral(scaledJob)}-.+`)}})`;
  if (deployment !== null) workloads[deployment] = `sum(kube_deployment_status_replicas{${ns},deployment=${label(deployment)}})`;
  return {
    ready: `sum(surge_queue_messages_ready{${queue}})`,
    inFlight: `sum(surge_queue_messages_in_flight{${queue}})`,
    deadLettered: `sum(surge_queue_messages_dead_lettered{${queue}})`,
    workloads,
  };
}

interface RangeResponse {
  status: string;
  error?: string;
  data?: { resultType: string; result: { metric: Record<string, string>; values: [number, string][] }[] };
}

/** One `query_range`; returns value by timestamp (ms). An empty result is an empty map (no data in the range). */
async function queryRange(options: PrometheusRangeOptions, query: string, step: number): Promise<Map<number, number>> {
  const base = new URL(options.url);
  const credentials = base.username
    ? `Basic ${Buffer.from(`${decodeURIComponent(base.username)}:${decodeURIComponent(base.password)}`).toString('base64')}`
    : undefined;
  base.username = '';
  base.password = '';
  const url = new URL(`${base.pathname.replace(/\/+$/, '')}/api/v1/query_range`, base);
  url.search = new URLSearchParams({
    query,
    start: String(options.start / 1000),
    end: String(options.end / 1000),
    step: String(step),
  }).toString();
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
  if (credentials && headers['authorization'] === undefined && headers['Authorization'] === undefined)
    headers['authorization'] = credentials;
  let response: Response;
  try {
    response = await (options.fetch ?? fetch)(url, { headers, signal: AbortSignal.timeout(options.timeoutMs ?? 15_000) });
  } catch (error) {
    throw new PrometheusQueryError(`Prometheus at ${base.origin} did not answer: ${(error as Error).message}`, {
      retryable: true,
      cause: error,
    });
  }
  const text = await response.text();
  let body: RangeResponse;
  try {
    body = JSON.parse(text) as RangeResponse;
  } catch (error) {
    throw new PrometheusQueryError(`Prometheus answered ${response.status} with a body that is not JSON`, {
      retryable: response.status >= 500,
      cause: error,
    });
  }
  if (!response.ok || body.status !== 'success' || !body.data) {
    throw new PrometheusQueryError(`Prometheus rejected ${query}: ${response.status} ${body.error ?? body.status}`, {
      retryable: response.status >= 500 || response.status === 429,
    });
  }
  if (body.data.result.length > 1)
    throw new PrometheusQueryError(`${query} returned ${body.data.result.length} series; expected one (aggregate with sum)`, {
      retryable: false,
    });
  const values = new Map<number, number>();
  for (const [t, v] of body.data.result[0]?.values ?? []) {
    const n = Number(v);
    if (Number.isFinite(n)) values.set(Math.round(t * 1000), n);
  }
  return values;
}

/** Reads the timeline of a cluster run. Points where a series has no sample are null (gaps), not 0. */
export async function prometheusTimeline(
  options: PrometheusRangeOptions,
): Promise<{ timeline: TimelineSample[]; workloads: string[]; queries: ReturnType<typeof prometheusQueries> }> {
  if (!(options.end > options.start)) throw new PrometheusQueryError('the range end must be after its start', { retryable: false });
  const step = options.stepSeconds ?? Math.max(1, Math.ceil((options.end - options.start) / 1000 / 250));
  const queries = prometheusQueries(options);
  const workloads = Object.keys(queries.workloads);
  const [ready, inFlight, deadLettered, ...replicas] = await Promise.all([
    queryRange(options, queries.ready, step),
    queryRange(options, queries.inFlight, step),
    queryRange(options, queries.deadLettered, step),
    ...workloads.map((w) => queryRange(options, queries.workloads[w] as string, step)),
  ]);
  const times = new Set<number>();
  for (const series of [ready, inFlight, deadLettered, ...replicas]) for (const t of series!.keys()) times.add(t);
  const timeline = [...times]
    .sort((a, b) => a - b)
    .map((at): TimelineSample => {
      const r = ready!.get(at) ?? null;
      const f = inFlight!.get(at) ?? null;
      return {
        at,
        depth: r === null && f === null ? null : (r ?? 0) + (f ?? 0),
        ready: r,
        inFlight: f,
        deadLettered: deadLettered!.get(at) ?? null,
        // kube-state-metrics drops a Job's series when the Job is deleted: a missing point means no active Job.
        replicas: Object.fromEntries(workloads.map((w, i) => [w, replicas[i]!.get(at) ?? (replicas[i]!.size > 0 ? 0 : null)])),
      };
    });
  return { timeline, workloads, queries };
}
