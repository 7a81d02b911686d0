/**
 * What both workers do with one delivery. At-least-once, settle after the side effect:
 *
 *   decode + validate ── invalid ──▶ dead-letter at once, with the field errors as the reason
 *        │
 *   simulate the work ── SIGTERM (signal) ──▶ abandon (redelivered to another worker)
 *        │            ── injected failure ──▶ abandon (the adapter dead-letters at maxDeliveries)
 *   write the result  ── store failure ──▶ abandon (written later, on redelivery)
 *        │            ── already there ──▶ counted as a duplicate, never overwritten
 *   complete
 *
 * A message can be processed twice (lease expiry, SIGKILL after the write but before complete); the
 * result store's create-if-absent write makes that harmless. `process` never throws for anything a
 * message, broker or store can do: it returns a report the caller turns into logs, metrics and
 * (for the job) an exit code.
 */
import { errorFields } from '@surge/core';
import { decodeWorkMessage, formatFieldErrors, type WorkerKind, type WorkResult } from '@surge/contracts';
import { DeadLetterReasons as QueueDeadLetterReasons, type Delivery } from '@surge/queue-adapters';
import type { ResultSink, WriteOutcome } from '@surge/results';
import { deliveryLogger, noopTracer, type Logger, type MessagingTracer } from '@surge/telemetry';
import { simulateWork, WorkAbortedError, DEFAULT_CPU_SLICE_MS } from './simulate.ts';

/** Dead-letter reasons a worker sees: the adapters' own, and the one this lib sets for a message it cannot read. */
export const DeadLetterReasons = {
  ...QueueDeadLetterReasons,
  INVALID_MESSAGE: 'InvalidMessage',
} as const;

export type Outcome =
  /** Result stored (or already there) and the message completed. */
  | 'completed'
  /** Invalid message, or the last allowed delivery failed. */
  | 'dead-lettered'
  /** The simulated work failed (injected): abandoned for redelivery. */
  | 'failed'
  /** The result store failed: abandoned for redelivery. */
  | 'store-failed'
  /** Shutdown interrupted the work: abandoned for another worker. */
  | 'aborted'
  /** Settling failed (broker connection or lock lost): the broker redelivers on its own. */
  | 'settle-failed';

export interface ProcessingReport {
  messageId: string;
  outcome: Outcome;
  /** Set when a result write was attempted and succeeded. */
  write?: WriteOutcome;
  /** Dead-letter reason, or why it was abandoned. */
  reason?: string;
  /** The store error (store-failed) or queue error (settle-failed). */
  error?: unknown;
  /** Start of processing to settled. */
  processingMs: number;
  /** Enqueued (broker time, else the message's createdAt) to settled; only for `completed`. */
  endToEndMs?: number;
}

/** Metric hooks: `started` when a delivery is taken up, `finished` with its report. */
export interface ProcessingObserver {
  started?(delivery: Delivery): void;
  finished?(report: ProcessingReport, delivery: Delivery): void;
}

export interface ProcessorOptions {
  sink: ResultSink;
  worker: { kind: WorkerKind; instance: string };
  logger: Logger;
  /** The queue's maximum deliveries: a failure on the last one is reported as dead-lettered. */
  maxDeliveries: number;
  observer?: ProcessingObserver;
  /** Continues the producer's trace in a `process` span (no-op unless tracing is on). */
  tracer?: MessagingTracer;
  now?: () => number;
  random?: () => number;
  cpuSliceMs?: number;
}

export type Processor = (delivery: Delivery, signal?: AbortSignal) => Promise<ProcessingReport>;

export function createProcessor(options: ProcessorOptions): Processor {
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const sliceMs = options.cpuSliceMs ?? DEFAULT_CPU_SLICE_MS;
  const { sink, worker, observer } = options;
  const tracer = options.tracer ?? noopTracer;
  const enqueuedIso = isoFormatter();
  const clockIso = isoFormatter();

  return (delivery, signal) => tracer.process(delivery, () => processOne(delivery, signal));

  async function processOne(delivery: Delivery, signal: AbortSignal | undefined): Promise<ProcessingReport> {
    const startedAt = now();
    // The child logger is made on first use: on the success path at `info` nothing is logged, and a
    // pino child per delivery was a measurable share of a zero-work message's cost.
    let child: Logger | undefined;
    const log = (): Logger =>
      (child ??= tracer.enabled
        ? deliveryLogger(options.logger, delivery).child(tracer.logFields())
        : deliveryLogger(options.logger, delivery));
    observer?.started?.(delivery);
    const finish = (report: Omit<ProcessingReport, 'messageId' | 'processingMs'>, enqueuedAt?: number): ProcessingReport => {
      const done: ProcessingReport = { messageId: delivery.id, processingMs: now() - startedAt, ...report };
      if (done.outcome === 'completed' && enqueuedAt !== undefined) done.endToEndMs = now() - enqueuedAt;
      observer?.finished?.(done, delivery);
      return done;
    };
    /** Settles and turns a settle failure into `settle-failed` (the broker redelivers on its own). */
    const settle = async (
      action: () => Promise<void>,
      report: Omit<ProcessingReport, 'messageId' | 'processingMs'>,
      enqueuedAt?: number,
    ): Promise<ProcessingReport> => {
      try {
        await action();
        return finish(report, enqueuedAt);
      } catch (error) {
        log().error({ err: errorFields(error), intended: report.outcome }, 'settling the delivery failed; the broker will redeliver it');
        // A store failure stays a store failure: the job's exit code must name the first cause.
        // The write outcome stays: a duplicate written before a failed complete is still a duplicate.
        return finish(
          report.outcome === 'store-failed'
            ? report
            : { outcome: 'settle-failed', error, reason: report.reason, ...(report.write === undefined ? {} : { write: report.write }) },
        );
      }
    };

    const decoded = decodeWorkMessage(delivery.body);
    if (!decoded.ok) {
      const reason = formatFieldErrors(decoded.errors);
      log().warn({ reason }, 'invalid message: dead-lettering it');
      return settle(() => delivery.deadLetter(DeadLetterReasons.INVALID_MESSAGE, reason.slice(0, 1024)), {
        outcome: 'dead-lettered',
        reason: DeadLetterReasons.INVALID_MESSAGE,
      });
    }
    const message = decoded.value;
    if (options.logger.isLevelEnabled('debug'))
      log().debug({ loadId: message.loadId, seq: message.seq, mode: message.work.mode, durationMs: message.work.durationMs }, 'processing');

    try {
      await simulateWork(message.work, signal, sliceMs);
    } catch (error) {
      if (!(error instanceof WorkAbortedError)) throw error;
      log().warn({ loadId: message.loadId }, 'shutting down: abandoning the delivery');
      return settle(() => delivery.abandon(), { outcome: 'aborted', reason: 'shutdown' });
    }

    if (message.work.failureProbability > 0 && random() < message.work.failureProbability) {
      const last = delivery.deliveryCount >= options.maxDeliveries;
      log().warn(
        { loadId: message.loadId, last },
        last
          ? 'injected failure on the last delivery: the message goes to the dead-letter queue'
          : 'injected failure: abandoning for redelivery',
      );
      return settle(
        () => delivery.abandon(),
        last ? { outcome: 'dead-lettered', reason: DeadLetterReasons.MAX_DELIVERIES } : { outcome: 'failed', reason: 'injected failure' },
      );
    }

    const enqueuedAt = delivery.enqueuedAt?.getTime() ?? Date.parse(message.createdAt);
    const result: WorkResult = {
      version: message.version,
      messageId: message.id,
      loadId: message.loadId,
      seq: message.seq,
      worker,
      deliveryAttempt: delivery.deliveryCount,
      enqueuedAt: enqueuedIso(enqueuedAt),
      startedAt: clockIso(startedAt),
      finishedAt: clockIso(now()),
      outcome: 'succeeded',
    };
    let write: WriteOutcome;
    try {
      write = await sink.writeIfAbsent(result);
    } catch (error) {
      log().error({ err: errorFields(error), loadId: message.loadId }, 'storing the result failed: abandoning the delivery');
      return settle(() => delivery.abandon(), { outcome: 'store-failed', reason: 'result store failed', error });
    }
    if (write === 'duplicate')
      log().info(
        { loadId: message.loadId, seq: message.seq, write },
        'a result for this message already exists: kept it, completing the redelivery',
      );
    const report = await settle(() => delivery.complete(), { outcome: 'completed', write }, enqueuedAt);
    if (report.outcome === 'completed') {
      if (options.logger.isLevelEnabled('debug'))
        log().debug({ loadId: message.loadId, seq: message.seq, write, processingMs: report.processingMs }, 'processed');
    }
    return report;
  }
}

/**
 * `new Date(ms).toISOString()`, remembering the last one: the messages of a batch share their
 * millisecond and a RabbitMQ enqueue time its second, and formatting was a visible share of a
 * zero-work message's cost.
 */
function isoFormatter(): (ms: number) => string {
  let lastMs = Number.NaN;
  let last = '';
  return (ms) => {
    if (ms !== lastMs) {
      lastMs = ms;
      last = new Date(ms).toISOString();
    }
    return last;
  };
}
