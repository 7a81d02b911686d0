/**
 * The worker's Prometheus metrics, all prefixed `surge_worker_`, on the app's own registry. They
 * are fed by the processing lib's observer hooks, so every outcome a delivery can have is counted
 * in exactly one place.
 */
import { DeadLetterReasons, type ProcessingObserver } from '@surge/processing';
import { Counter, Gauge, Histogram, LATENCY_BUCKETS_SECONDS, type Registry } from '@surge/metrics';

export interface WorkerMetrics {
  observer: ProcessingObserver;
  consumerAttached: Gauge;
}

/** Abandon reasons as metric label values. */
const FAILED_REASON = { failed: 'work', 'store-failed': 'result_store', aborted: 'shutdown', 'settle-failed': 'settle' } as const;

/** `attached` is read at each scrape, so the gauge follows a consumer that detaches and comes back. */
export function createWorkerMetrics(registry: Registry, attached: () => boolean = () => false): WorkerMetrics {
  const processed = new Counter({
    name: 'surge_worker_messages_processed_total',
    help: 'Messages completed after their result was stored; result="duplicate" when a result already existed and was kept (a redelivery).',
    labelNames: ['result'],
    registers: [registry],
  });
  const failed = new Counter({
    name: 'surge_worker_messages_failed_total',
    help: 'Deliveries given back for redelivery: reason="work" (the work failed), "result_store", "shutdown" (drain budget spent), "settle" (broker or lock lost).',
    labelNames: ['reason'],
    registers: [registry],
  });
  const deadLettered = new Counter({
    name: 'surge_worker_messages_dead_lettered_total',
    help: 'Messages this worker sent to the dead-letter queue, by reason (InvalidMessage, MaxDeliveryCountExceeded).',
    labelNames: ['reason'],
    registers: [registry],
  });
  const inFlight = new Gauge({
    name: 'surge_worker_messages_in_flight',
    help: 'Deliveries being processed right now.',
    registers: [registry],
  });
  const processing = new Histogram({
    name: 'surge_worker_processing_seconds',
    help: 'Time from taking up a delivery to settling it, by outcome.',
    labelNames: ['outcome'],
    buckets: LATENCY_BUCKETS_SECONDS,
    registers: [registry],
  });
  const endToEnd = new Histogram({
    name: 'surge_worker_end_to_end_seconds',
    help: 'Time from the message being enqueued (broker time, else its createdAt) to being completed with a stored result.',
    buckets: LATENCY_BUCKETS_SECONDS,
    registers: [registry],
  });
  const consumerAttached = new Gauge({
    name: 'surge_worker_consumer_attached',
    help: '1 while the consumer is attached to the queue and taking messages (0 after repeated fetch failures, a lost connection, or on stop).',
    registers: [registry],
    collect() {
      this.set(attached() ? 1 : 0);
    },
  });
  // Series exist from the start, so rate() and absent() behave before the first message.
  for (const result of ['written', 'duplicate']) processed.inc({ result }, 0);
  for (const reason of Object.values(FAILED_REASON)) failed.inc({ reason }, 0);
  for (const reason of Object.values(DeadLetterReasons)) deadLettered.inc({ reason }, 0);

  // Label children bound once: prom-client hashes the label set on every labelled call, per message.
  const processingBy = new Map<string, ReturnType<typeof processing.labels>>();
  const processedBy = { written: processed.labels({ result: 'written' }), duplicate: processed.labels({ result: 'duplicate' }) };

  return {
    consumerAttached,
    observer: {
      started: () => inFlight.inc(),
      finished: (report) => {
        inFlight.dec();
        let byOutcome = processingBy.get(report.outcome);
        if (!byOutcome) processingBy.set(report.outcome, (byOutcome = processing.labels({ outcome: report.outcome })));
        byOutcome.observe(report.processingMs / 1000);
        switch (report.outcome) {
          case 'completed':
            processedBy[report.write ?? 'written'].inc();
            if (report.endToEndMs !== undefined) endToEnd.observe(Math.max(0, report.endToEndMs) / 1000);
            break;
          case 'dead-lettered':
            deadLettered.inc({ reason: report.reason ?? 'unknown' });
            break;
          default:
            failed.inc({ reason: FAILED_REASON[report.outcome] });
        }
      },
    },
  };
}
