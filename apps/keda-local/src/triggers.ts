/**
 * Reads the value each trigger would see, from the processes keda-local started: a `metrics-api`
 * trigger queries the local exporter (the manifest's host is replaced by the exporter's address, and
 * a `/api/v1/queues/<name>` path gets the demo's queue), broker triggers read the adapter's depth the
 * way KEDA's scaler counts. Reads within one tick are shared, as one HTTP answer would be.
 */
import type { QueueClient } from '@surge/queue-adapters';
import type { TriggerReading, TriggerSpec } from '@surge/scaling';
import type { TriggerReader } from '@surge/supervisor';

export interface TriggerReaderOptions {
  /** `http://127.0.0.1:<port>` of the exporter keda-local started. */
  readonly exporterUrl: string;
  readonly queue: string;
  readonly queueClient: QueueClient;
  /** KEDA_HTTP_DEFAULT_TIMEOUT: 3000 ms. */
  readonly timeoutMs?: number;
  /** Reads younger than this are reused (both scalers polling in the same tick). */
  readonly shareMs?: number;
  readonly fetch?: typeof fetch;
}

/** The subset of GJSON paths KEDA users write: `a.b.0.c`. */
export function valueAt(document: unknown, location: string): unknown {
  let current: unknown = document;
  for (const part of location.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = Array.isArray(current) ? current[Number(part)] : (current as Record<string, unknown>)[part];
  }
  return current;
}

export function localMetricsUrl(manifestUrl: string, exporterUrl: string, queue: string): string {
  const source = new URL(manifestUrl);
  const target = new URL(exporterUrl);
  const pathname = source.pathname.replace(/^(\/api\/v1\/queues\/)[^/]+$/, `$1${encodeURIComponent(queue)}`);
  return new URL(`${pathname}${source.search}`, target).toString();
}

export function createTriggerReader(options: TriggerReaderOptions): TriggerReader {
  const shared = new Map<string, { at: number; value: Promise<TriggerReading> }>();
  const shareMs = options.shareMs ?? 250;

  const once = (key: string, read: () => Promise<TriggerReading>): Promise<TriggerReading> => {
    const now = Date.now();
    const hit = shared.get(key);
    if (hit && now - hit.at < shareMs) return hit.value;
    const value = read().catch((error: unknown): TriggerReading => ({ error: (error as Error).message ?? String(error) }));
    shared.set(key, { at: now, value });
    return value;
  };

  const readHttp = async (url: string, location: string): Promise<TriggerReading> => {
    const response = await (options.fetch ?? fetch)(url, { signal: AbortSignal.timeout(options.timeoutMs ?? 3000) });
    const text = await response.text();
    // KEDA's metrics-api scaler: any status other than 200 is an error (no scale-in on a broken exporter).
    if (response.status !== 200) return { error: `${url} answered ${response.status}` };
    const value = valueAt(JSON.parse(text), location);
    const number = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : Number.NaN;
    return Number.isFinite(number) ? { value: number } : { error: `${location} is not a number in the answer of ${url}` };
  };

  const depth = () => options.queueClient.depth();

  return async (triggers: readonly TriggerSpec[]) =>
    Promise.all(
      triggers.map((trigger): Promise<TriggerReading> => {
        const source = trigger.source;
        switch (source.getter) {
          case 'metrics-api.value': {
            if (source.format !== 'json')
              return Promise.resolve({ error: `metrics-api format ${source.format} is not served by the exporter (json only)` });
            const url = localMetricsUrl(source.url, options.exporterUrl, options.queue);
            return once(`GET ${url} ${source.valueLocation}`, () => readHttp(url, source.valueLocation));
          }
          case 'rabbitmq.queueLength':
            // http without excludeUnacknowledged counts unacked too; amqp counts ready only.
            return once(`depth ${source.includeUnacked !== false}`, async () => {
              const d = await depth();
              return { value: source.includeUnacked === false ? d.ready : d.ready + d.inFlight };
            });
          case 'azure-servicebus.activeMessageCount':
            // ActiveMessageCount includes peek-locked messages.
            return once('depth true', async () => {
              const d = await depth();
              return { value: d.ready + d.inFlight };
            });
          case 'prometheus.query':
            return Promise.resolve({
              error: 'prometheus triggers need a Prometheus: keda-local serves metrics-api and broker triggers only',
            });
        }
      }),
    );
}
