/**
 * nginx-prometheus-exporter's series, read at scrape time, on a registry the caller owns.
 *
 * Same names, types and help text as nginx-prometheus-exporter (collector/nginx.go), so an existing
 * dashboard or a KEDA `prometheus` trigger on `sum(nginx_connections_active{...})` keeps working:
 * three counters (accepted, handled, http_requests_total), four gauges, and `nginx_up`. `nginx_up`
 * says whether the last read of that target succeeded (not whether nginx is up); when it is 0 the
 * other series of that target are absent from the scrape — never the last good values.
 *
 * One target: no extra label. Several: each series gets `addr="<status URL>"`, as
 * nginx-prometheus-exporter does with several `--nginx.scrape-uri`. Constant labels go on every series.
 *
 * Concurrent scrapes share one read per target (the read that is in flight when they arrive); a
 * scrape that arrives after it finished starts a new one. Nothing is cached between reads.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { NginxStatusError } from './errors.ts';
import {
  fetchStubStatus,
  stubStatusLabel,
  stubStatusTarget,
  type FetchStubStatusOptions,
  type StubStatus,
  type StubStatusTarget,
} from './stub-status.ts';

export type StubStatusReader = (target: StubStatusTarget, options: FetchStubStatusOptions) => Promise<StubStatus>;

export interface NginxCollectorOptions {
  registry: Registry;
  /** stub_status URLs (`http://127.0.0.1:8080/stub_status`); `user:pass@` becomes Basic auth. */
  targets: readonly string[];
  /** Labels on every series (`EXPORTER_CONST_LABELS`). */
  constLabels?: Readonly<Record<string, string>>;
  /** Bound on one read; nginx-prometheus-exporter's default is 5 s. */
  timeoutMs?: number;
  /** Called after every read with the target (URL without credentials) and the error if it failed, for logging. */
  onRead?: (target: string, error: NginxStatusError | undefined) => void;
  /** Replaces the HTTP read (tests). */
  read?: StubStatusReader;
}

export interface NginxCollector {
  /** Status URLs without credentials, in label order. */
  readonly targets: readonly string[];
  /** Reads every target once and updates the series (what a scrape does). */
  refresh(): Promise<void>;
  /** Aborts reads in flight; later scrapes report `nginx_up 0`. */
  close(): void;
}

/** Label used to tell several targets apart, as nginx-prometheus-exporter names it. */
export const TARGET_LABEL = 'addr';

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function createNginxCollector(options: NginxCollectorOptions): NginxCollector {
  const labels = options.targets.map(stubStatusLabel);
  const repeated = labels.find((label, i) => labels.indexOf(label) !== i);
  // Two URLs that differ only in credentials (or spelling) would share one `addr` and one nginx_up series.
  if (repeated !== undefined) throw new TypeError(`nginx status URL ${repeated} is listed more than once (credentials aside)`);
  const targets = options.targets.map(stubStatusTarget);
  const constLabels = { ...options.constLabels };
  for (const name of Object.keys(constLabels)) {
    if (!LABEL_NAME.test(name) || name.startsWith('__')) throw new TypeError(`invalid constant label name ${JSON.stringify(name)}`);
  }
  const several = targets.length > 1;
  if (several && TARGET_LABEL in constLabels) throw new TypeError(`constant label "${TARGET_LABEL}" clashes with the per-target label`);
  const labelsOf = (target: StubStatusTarget): Record<string, string> =>
    several ? { ...constLabels, [TARGET_LABEL]: target.label } : { ...constLabels };
  const targetLabels = targets.map(labelsOf);
  const labelNames = Object.keys(targetLabels[0] ?? constLabels);
  const read = options.read ?? fetchStubStatus;
  const timeoutMs = options.timeoutMs ?? 5_000;
  const closing = new AbortController();

  let inFlight: Promise<void> | undefined;
  // Every series' collect() awaits the same refresh, so one scrape costs one read per target and all
  // series of a scrape come from the same read.
  const collect = (): Promise<void> => refresh();

  const registers = [options.registry];
  const gauge = (name: string, help: string) => new Gauge({ name, help, labelNames, registers, collect });
  const counter = (name: string, help: string) => new Counter({ name, help, labelNames, registers, collect });
  // Help text as nginx-prometheus-exporter writes it.
  const up = gauge('nginx_up', 'Status of the last metric scrape');
  const active = gauge('nginx_connections_active', 'Active client connections');
  const accepted = counter('nginx_connections_accepted', 'Accepted client connections');
  const handled = counter('nginx_connections_handled', 'Handled client connections');
  const reading = gauge('nginx_connections_reading', 'Connections where NGINX is reading the request header');
  const writing = gauge('nginx_connections_writing', 'Connections where NGINX is writing the response back to the client');
  const waiting = gauge('nginx_connections_waiting', 'Idle client connections');
  const requests = counter('nginx_http_requests_total', 'Total http requests');
  const gauges = [active, reading, writing, waiting];
  const counters = [accepted, handled, requests];

  function setCounter(metric: Counter, labels: Record<string, string>, value: number): void {
    // prom-client counters only go up; stub_status gives the absolute value, so replace the series.
    metric.remove(labels);
    metric.inc(labels, value);
  }

  function apply(labels: Record<string, string>, result: PromiseSettledResult<StubStatus>, target: StubStatusTarget): void {
    if (result.status === 'rejected') {
      up.set(labels, 0);
      for (const metric of gauges) metric.remove(labels);
      for (const metric of counters) metric.remove(labels);
      const error =
        result.reason instanceof NginxStatusError
          ? result.reason
          : new NginxStatusError('UNREACHABLE', String(result.reason), { cause: result.reason });
      options.onRead?.(target.label, error);
      return;
    }
    const stats = result.value;
    up.set(labels, 1);
    active.set(labels, stats.connections.active);
    reading.set(labels, stats.connections.reading);
    writing.set(labels, stats.connections.writing);
    waiting.set(labels, stats.connections.waiting);
    setCounter(accepted, labels, stats.connections.accepted);
    setCounter(handled, labels, stats.connections.handled);
    setCounter(requests, labels, stats.requests);
    options.onRead?.(target.label, undefined);
  }

  function refresh(): Promise<void> {
    if (inFlight) return inFlight;
    const current = Promise.allSettled(
      targets.map((target) =>
        closing.signal.aborted
          ? Promise.reject(new NginxStatusError('UNREACHABLE', `${target.label}: the collector is closed`))
          : read(target, { timeoutMs, signal: closing.signal }),
      ),
    ).then((results) => {
      results.forEach((result, i) => apply(targetLabels[i]!, result, targets[i]!));
    });
    inFlight = current.finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  }

  return {
    targets: targets.map((t) => t.label),
    refresh,
    close: () => {
      closing.abort();
      for (const target of targets) target.agent.destroy();
    },
  };
}
