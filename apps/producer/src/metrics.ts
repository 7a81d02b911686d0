/**
 * The producer's Prometheus metrics, on the app's own registry (never the global one). Names carry
 * the `surge_producer_` prefix; every metric has help text.
 */
import { Counter, Gauge, Histogram, LATENCY_BUCKETS_SECONDS, type Registry } from '@surge/metrics';
import type { LoadObserver } from '@surge/load-generator';
import { isSurgeError } from '@surge/core';

export interface ProducerMetrics {
  observer: LoadObserver;
}

export function createProducerMetrics(registry: Registry, activeLoads: () => number): ProducerMetrics {
  const registers = [registry];
  const started = new Counter({ name: 'surge_producer_loads_started_total', help: 'Loads accepted and started.', registers });
  const finished = new Counter({
    name: 'surge_producer_loads_finished_total',
    help: 'Loads that ended, by outcome (completed, failed, cancelled).',
    labelNames: ['outcome'] as const,
    registers,
  });
  for (const outcome of ['completed', 'failed', 'cancelled']) finished.inc({ outcome }, 0);
  const sent = new Counter({ name: 'surge_producer_messages_sent_total', help: 'Messages the broker confirmed.', registers });
  const sendFailures = new Counter({
    name: 'surge_producer_send_failures_total',
    help: 'Send attempts that failed (each may be retried), by error code.',
    labelNames: ['code'] as const,
    registers,
  });
  const latency = new Histogram({
    name: 'surge_producer_send_duration_seconds',
    help: 'Time from sending a batch to the broker confirming all of it.',
    buckets: LATENCY_BUCKETS_SECONDS,
    registers,
  });
  const batchSize = new Histogram({
    name: 'surge_producer_batch_size_messages',
    help: 'Messages per confirmed batch.',
    buckets: [1, 5, 10, 20, 50, 100, 200, 500, 1000, 5000],
    registers,
  });
  new Gauge({
    name: 'surge_producer_loads_active',
    help: 'Loads pending or running now.',
    registers,
    collect() {
      this.set(activeLoads());
    },
  });
  return {
    observer: {
      loadStarted: () => started.inc(),
      loadFinished: (status) => finished.inc({ outcome: status.state }),
      batchConfirmed: (size, seconds) => {
        sent.inc(size);
        latency.observe(seconds);
        batchSize.observe(size);
      },
      sendFailed: (error) => sendFailures.inc({ code: isSurgeError(error) ? error.code : 'UNKNOWN' }),
    },
  };
}
