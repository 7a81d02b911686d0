/**
 * The long-running worker a KEDA ScaledObject scales 0→N→0. Testable wiring: it takes an open
 * queue client and result sink and never touches signals, ports or process.exit (`main.ts` does).
 *
 * Stopping follows what the HPA does to a pod on scale-in (it picks any pod and sends SIGTERM, then
 * SIGKILL after the grace period; docs/field-problems.md#scaledobject-workers): intake stops at
 * once, in-flight work gets `drainTimeoutMs` to finish, then its AbortSignal fires and it is
 * abandoned (redelivered to another replica), and the clients are closed within a budget.
 */
import { errorFields, sleep, withTimeout } from '@surge/core';
import { combineObservers, createProcessor, type ProcessingObserver, type Processor } from '@surge/processing';
import type { Consumer, QueueClient } from '@surge/queue-adapters';
import type { ResultSink } from '@surge/results';
import { noopTracer, type Logger, type MessagingTracer } from '@surge/telemetry';
import type { Registry } from '@surge/metrics';
import { createWorkerMetrics, type WorkerMetrics } from './metrics.ts';

export interface WorkerDeploymentOptions {
  queue: QueueClient;
  sink: ResultSink;
  logger: Logger;
  registry: Registry;
  concurrency: number;
  drainTimeoutMs: number;
  instance: string;
  maxDeliveries: number;
  tracer?: MessagingTracer;
  /** After the drain budget: how long abandoned handlers and closing the clients may take. Default 3000 ms. */
  closeTimeoutMs?: number;
  /** Sees every delivery's report besides the metrics (keda-local's outcome file). */
  observer?: ProcessingObserver;
  /** The consumer stopped for good (retrying cannot fix its queue): main ends the process with the queue exit code. */
  onGiveUp?: (error: Error) => void;
}

export interface StopSummary {
  /** True when every in-flight delivery finished within the drain budget. */
  drained: boolean;
}

export class WorkerDeployment {
  private readonly options: WorkerDeploymentOptions;
  private readonly metrics: WorkerMetrics;
  private readonly process: Processor;
  /** Fires when the drain budget is spent: in-flight work is abandoned. */
  private readonly abortWork = new AbortController();
  private consumer: Consumer | undefined;
  private stopping: Promise<StopSummary> | undefined;

  constructor(options: WorkerDeploymentOptions) {
    this.options = options;
    this.metrics = createWorkerMetrics(options.registry, () => this.ready);
    this.process = createProcessor({
      sink: options.sink,
      logger: options.logger,
      worker: { kind: 'deployment', instance: options.instance },
      maxDeliveries: options.maxDeliveries,
      observer: options.observer === undefined ? this.metrics.observer : combineObservers(this.metrics.observer, options.observer),
      tracer: options.tracer ?? noopTracer,
    });
  }

  /** True while the consumer is attached and taking messages (`/readyz`). */
  get ready(): boolean {
    return this.stopping === undefined && (this.consumer?.attached ?? false);
  }

  get inFlight(): number {
    return this.consumer?.inFlight ?? 0;
  }

  async start(): Promise<void> {
    if (this.consumer) return;
    const { logger } = this.options;
    this.consumer = await this.options.queue.consume(
      async (delivery) => {
        await this.process(delivery, this.abortWork.signal);
      },
      {
        concurrency: this.options.concurrency,
        onError: (error) => logger.warn({ err: errorFields(error), queue: this.options.queue.queue }, 'consumer error'),
        ...(this.options.onGiveUp ? { onGiveUp: this.options.onGiveUp } : {}),
      },
    );
    logger.info(
      {
        queue: this.options.queue.queue,
        kind: this.options.queue.kind,
        concurrency: this.options.concurrency,
        results: this.options.sink.location,
      },
      'consuming',
    );
  }

  /** Idempotent: every caller gets the same stop. */
  stop(): Promise<StopSummary> {
    this.stopping ??= this.drainAndClose();
    return this.stopping;
  }

  private async drainAndClose(): Promise<StopSummary> {
    const { logger, drainTimeoutMs } = this.options;
    const closeTimeoutMs = this.options.closeTimeoutMs ?? 3000;
    let drained = true;
    if (this.consumer) {
      logger.info({ inFlight: this.consumer.inFlight, drainTimeoutMs }, 'stopping intake; draining in-flight work');
      const consumerStopped = this.consumer.stop();
      const budget = new AbortController();
      const finished = await Promise.race([consumerStopped.then(() => true), sleep(drainTimeoutMs, budget.signal).then(() => false)]);
      budget.abort();
      if (!finished) {
        drained = false;
        logger.warn({ inFlight: this.consumer.inFlight }, 'drain budget spent: abandoning in-flight work');
        this.abortWork.abort();
        await withTimeout(consumerStopped, closeTimeoutMs, 'abandoning in-flight work').catch((error: unknown) =>
          logger.error({ err: errorFields(error) }, 'in-flight work did not stop; closing anyway'),
        );
      }
    }
    await Promise.all([
      withTimeout(this.options.queue.close(), closeTimeoutMs, 'closing the queue client').catch((error: unknown) =>
        logger.warn({ err: errorFields(error) }, 'queue client did not close cleanly'),
      ),
      withTimeout(this.options.sink.close(), closeTimeoutMs, 'closing the result sink').catch((error: unknown) =>
        logger.warn({ err: errorFields(error) }, 'result sink did not close cleanly'),
      ),
    ]);
    logger.info({ drained }, 'stopped');
    return { drained };
  }
}
