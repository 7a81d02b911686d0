/**
 * One run of the worker-job, as KEDA's ScaledJob expects (a Job that waits on an empty queue or
 * never exits keeps counting as running and holds a slot of the pool; see
 * docs/field-problems.md#scaledjob-workers): receive up to N messages with a bounded wait, process them, close the queue client within a budget, and report an exit code.
 * No signals, no process.exit here — `main.ts` owns those; tests drive this with an AbortSignal.
 */
import { WorkerExitCodes, createProcessor, type ProcessingReport, type ProcessingObserver } from '@surge/processing';
import { isQueueError, type Delivery, type QueueClient } from '@surge/queue-adapters';
import type { ResultSink } from '@surge/results';
import { noopTracer, type Logger, type MessagingTracer } from '@surge/telemetry';
import { errorFields, errorMessage, isSurgeError, withTimeout } from '@surge/core';

/** Documented in the README; Kubernetes shows them as the pod's exit code. */
export const ExitCodes = {
  /** OK also when the queue was empty. */
  ...WorkerExitCodes,
  /**
   * The work deadline (WORK_DEADLINE_MS from process start) passed: the work was stopped and the
   * message abandoned (redelivered with delivery count + 1). The base's podFailurePolicy fails the
   * Job at once on it: a retry pod of the same Job would not get that message back, only cost a pod.
   */
  DEADLINE: 6,
} as const;
export type ExitCode = (typeof ExitCodes)[keyof typeof ExitCodes];

export interface JobOptions {
  receiveCount: number;
  receiveWaitMs: number;
  instance: string;
  maxDeliveries: number;
  openQueue: () => Promise<QueueClient>;
  openSink: () => Promise<ResultSink>;
  logger: Logger;
  /** Aborted on SIGTERM: work in progress is abandoned and the run ends promptly. */
  signal: AbortSignal;
  /**
   * The run's work budget: `at` (epoch ms; main: process start + WORK_DEADLINE_MS) stops the receive
   * wait and the work like a signal does, but the run then exits 6. Undefined: no deadline.
   */
  workDeadline?: { at: number; budgetMs: number };
  /** Budget for closing the queue client and the sink. Default 1000 ms. */
  closeTimeoutMs?: number;
  observer?: ProcessingObserver;
  tracer?: MessagingTracer;
}

export interface JobOutcome {
  exitCode: ExitCode;
  /** One line for stderr and the final log line. */
  reason: string;
  reports: ProcessingReport[];
}

export async function runJob(options: JobOptions): Promise<JobOutcome> {
  const { logger, signal } = options;
  const closeTimeoutMs = options.closeTimeoutMs ?? 1000;
  // Connect to the broker and open the sink together: the two dominate a one-message pod's start.
  const [queueOpened, sinkOpened] = await Promise.allSettled([options.openQueue(), options.openSink()]);
  const queue = queueOpened.status === 'fulfilled' ? queueOpened.value : undefined;
  const sink = sinkOpened.status === 'fulfilled' ? sinkOpened.value : undefined;
  const close = async (): Promise<void> => {
    await Promise.all([
      queue &&
        withTimeout(queue.close(), closeTimeoutMs, 'closing the queue client').catch((error: unknown) =>
          logger.warn({ err: errorFields(error) }, 'queue client did not close cleanly'),
        ),
      sink &&
        withTimeout(sink.close(), closeTimeoutMs, 'closing the result sink').catch((error: unknown) =>
          logger.warn({ err: errorFields(error) }, 'result sink did not close cleanly'),
        ),
    ]);
  };

  // A folder that cannot be used (EMBEDDED_QUEUE_DIR, RESULTS_DIR) is a configuration error like a bad variable.
  const configFailure = [queueOpened, sinkOpened].find(
    (opened) => opened.status === 'rejected' && isSurgeError(opened.reason) && opened.reason.code === 'CONFIG_INVALID',
  );
  if (configFailure?.status === 'rejected') {
    await close();
    return { exitCode: ExitCodes.CONFIG, reason: `configuration error: ${errorMessage(configFailure.reason)}`, reports: [] };
  }
  if (queueOpened.status === 'rejected') {
    await close();
    return { exitCode: ExitCodes.QUEUE, reason: `queue unavailable: ${errorMessage(queueOpened.reason)}`, reports: [] };
  }
  if (sinkOpened.status === 'rejected' || !queue || !sink) {
    await close();
    return {
      exitCode: ExitCodes.RESULTS,
      reason: `result store unavailable: ${errorMessage(sinkOpened.status === 'rejected' ? sinkOpened.reason : 'not opened')}`,
      reports: [],
    };
  }

  // One stop signal for the receive wait and the work: SIGTERM or the work deadline, whichever comes
  // first; `stoppedBy` remembers which, because they end the run with different exit codes.
  let stoppedBy: 'signal' | 'deadline' | undefined;
  const deadline = new AbortController();
  const onSignal = () => (stoppedBy ??= 'signal');
  if (signal.aborted) onSignal();
  else signal.addEventListener('abort', onSignal, { once: true });
  const expire = () => {
    if (stoppedBy === undefined) {
      stoppedBy = 'deadline';
      logger.warn(
        { workDeadlineMs: options.workDeadline?.budgetMs },
        'work deadline passed: stopping the work; the delivery is abandoned for redelivery',
      );
    }
    deadline.abort();
  };
  let deadlineTimer: NodeJS.Timeout | undefined;
  if (options.workDeadline !== undefined) {
    const remainingMs = options.workDeadline.at - Date.now();
    if (remainingMs <= 0) expire();
    else deadlineTimer = setTimeout(expire, remainingMs);
  }
  const stop = AbortSignal.any([signal, deadline.signal]);
  const deadlineReason = () => `work deadline of ${options.workDeadline?.budgetMs} ms from process start passed (WORK_DEADLINE_MS)`;

  try {
    const tracer = options.tracer ?? noopTracer;
    logger.debug(
      { queue: queue.queue, kind: queue.kind, max: options.receiveCount, waitMs: options.receiveWaitMs, results: sink.location },
      'receiving',
    );
    const deliveries = await tracer.receive(queue.queue, () =>
      receiveUnlessAborted(queue, options.receiveCount, options.receiveWaitMs, stop),
    );
    if (deliveries === 'aborted') {
      if (stoppedBy === 'deadline')
        return { exitCode: ExitCodes.DEADLINE, reason: `${deadlineReason()} before a message arrived`, reports: [] };
      return { exitCode: ExitCodes.OK, reason: 'stopped by a signal before a message arrived', reports: [] };
    }
    if (deliveries.length === 0) return { exitCode: ExitCodes.OK, reason: `queue empty after ${options.receiveWaitMs} ms`, reports: [] };

    const handle = createProcessor({
      sink,
      logger,
      worker: { kind: 'job', instance: options.instance },
      maxDeliveries: options.maxDeliveries,
      tracer,
      ...(options.observer ? { observer: options.observer } : {}),
    });
    const reports: ProcessingReport[] = [];
    let exitCode: ExitCode = ExitCodes.OK;
    let failure = '';
    let handedBack = 0;
    for (const [index, delivery] of deliveries.entries()) {
      // After a signal, the deadline or an infrastructure failure, the rest go straight back to the queue.
      if (stop.aborted || exitCode !== ExitCodes.OK) {
        await abandonQuietly(deliveries.slice(index), logger);
        handedBack += deliveries.length - index;
        break;
      }
      const report = await handle(delivery, stop);
      if (report.outcome === 'aborted') handedBack += 1;
      reports.push(report);
      if (report.outcome === 'store-failed') {
        exitCode = ExitCodes.RESULTS;
        failure = `result store failed: ${errorMessage(report.error)}`;
      } else if (report.outcome === 'settle-failed') {
        exitCode = ExitCodes.QUEUE;
        failure = `settling message ${report.messageId} failed: ${errorMessage(report.error)}`;
      }
    }
    // A deadline that passed after the last message was already done changes nothing: exit 0.
    if (exitCode === ExitCodes.OK && stoppedBy === 'deadline' && handedBack > 0) {
      return {
        exitCode: ExitCodes.DEADLINE,
        reason: `${deadlineReason()}: ${handedBack} message(s) abandoned for redelivery; ${summarize(reports, false)}`,
        reports,
      };
    }
    return { exitCode, reason: exitCode === ExitCodes.OK ? summarize(reports, stoppedBy === 'signal') : failure, reports };
  } catch (error) {
    const queueFailure = isQueueError(error);
    return {
      exitCode: queueFailure ? ExitCodes.QUEUE : ExitCodes.UNEXPECTED,
      reason: `${queueFailure ? 'queue failure' : 'unexpected error'}: ${errorMessage(error)}`,
      reports: [],
    };
  } finally {
    clearTimeout(deadlineTimer);
    signal.removeEventListener('abort', onSignal);
    await close();
  }
}

/** `receive` is not cancellable; on a signal stop waiting, and hand back whatever arrives late. */
async function receiveUnlessAborted(queue: QueueClient, max: number, waitMs: number, signal: AbortSignal): Promise<Delivery[] | 'aborted'> {
  if (signal.aborted) return 'aborted';
  const receiving = queue.receive(max, waitMs);
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<'aborted'>((resolve) => {
    onAbort = () => resolve('aborted');
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    const winner = await Promise.race([receiving, aborted]);
    if (winner === 'aborted') {
      // Closing the client returns leases too; this covers backends that deliver after the race.
      receiving.then((late) => Promise.all(late.map((d) => d.abandon().catch(() => {})))).catch(() => {});
    }
    return winner;
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

async function abandonQuietly(deliveries: readonly Delivery[], logger: Logger): Promise<void> {
  await Promise.all(
    deliveries.map((d) =>
      d
        .abandon()
        .catch((error: unknown) =>
          logger.warn({ messageId: d.id, queue: d.queue, err: errorFields(error) }, 'abandon failed; the broker redelivers it anyway'),
        ),
    ),
  );
}

function summarize(reports: readonly ProcessingReport[], aborted: boolean): string {
  const counts = new Map<string, number>();
  for (const r of reports) {
    const key = r.outcome === 'completed' && r.write === 'duplicate' ? 'completed (duplicate result)' : r.outcome;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const parts = [...counts].map(([k, n]) => `${n} ${k}`).join(', ');
  return `processed ${reports.length} message(s): ${parts}${aborted ? '; stopped by a signal' : ''}`;
}
