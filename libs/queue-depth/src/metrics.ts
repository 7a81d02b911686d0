/**
 * Prometheus gauges over a QueueDepthMonitor, refreshed at scrape time (through the monitor's cache):
 * `surge_queue_messages_ready`, `_in_flight`, `_dead_lettered` and `surge_queue_up`, each with a
 * `queue` label. When a read fails, `surge_queue_up{queue} 0` and that queue's depth series are
 * removed — an old number is never served as current.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { QueueDepthMonitor, QueueDepthReading } from './monitor.ts';

export interface QueueDepthMetricsOptions {
  registry: Registry;
  monitor: QueueDepthMonitor;
  /** Labels on every series (`EXPORTER_CONST_LABELS`). */
  constLabels?: Readonly<Record<string, string>>;
}

export const QUEUE_LABEL = 'queue';

export function registerQueueDepthMetrics(options: QueueDepthMetricsOptions): void {
  const constLabels = { ...options.constLabels };
  if (QUEUE_LABEL in constLabels) throw new TypeError(`constant label "${QUEUE_LABEL}" clashes with the per-queue label`);
  const labelNames = [...Object.keys(constLabels), QUEUE_LABEL];
  const registers = [options.registry];
  let inFlight: Promise<void> | undefined;
  // All four gauges of a scrape share one refresh, hence one (cached) reading per queue.
  const collect = (): Promise<void> => {
    inFlight ??= options.monitor.readAll().then(
      (readings) => {
        for (const reading of readings) apply(reading);
        inFlight = undefined;
      },
      () => {
        inFlight = undefined;
      },
    );
    return inFlight;
  };
  const gauge = (name: string, help: string) => new Gauge({ name, help, labelNames, registers, collect });
  const up = gauge(
    'surge_queue_up',
    'Whether the last depth read of the queue succeeded (1) or the broker could not be read (0); the depth series are absent while 0',
  );
  const ready = gauge(
    'surge_queue_messages_ready',
    'Messages waiting in the queue to be delivered, as the broker reports them (read at most once per DEPTH_CACHE_MS)',
  );
  const inFlightGauge = gauge('surge_queue_messages_in_flight', 'Messages delivered and not yet settled (locked, unacked or leased)');
  const deadLettered = gauge('surge_queue_messages_dead_lettered', "Messages in the queue's dead-letter queue");
  new Counter({
    name: 'surge_queue_depth_reads_total',
    help: 'Depth reads sent to the broker, by outcome (cached answers are not counted)',
    labelNames: [...labelNames, 'outcome'],
    registers,
    async collect() {
      await collect();
      for (const queue of options.monitor.queues) {
        const counts = options.monitor.brokerReads(queue);
        for (const outcome of ['ok', 'error'] as const) {
          const labels = { ...constLabels, [QUEUE_LABEL]: queue, outcome };
          this.remove(labels);
          this.inc(labels, counts[outcome]);
        }
      }
    },
  });

  function apply(reading: QueueDepthReading): void {
    const labels = { ...constLabels, [QUEUE_LABEL]: reading.queue };
    if (!reading.ok) {
      up.set(labels, 0);
      ready.remove(labels);
      inFlightGauge.remove(labels);
      deadLettered.remove(labels);
      return;
    }
    up.set(labels, 1);
    ready.set(labels, reading.depth.ready);
    inFlightGauge.set(labels, reading.depth.inFlight);
    deadLettered.set(labels, reading.depth.deadLettered);
  }
}
