/**
 * The demo's view of the run, once per sample: the load's status from the producer, the queue's depth
 * and the results in the store, recorded into the timeline with each workload's replicas and shown as
 * progress. A failed read keeps the last value (the timeline records the depth as unknown).
 */
import type { LoadStatus } from '@surge/contracts';
import type { QueueClient, QueueDepth } from '@surge/queue-adapters';
import type { ResultSink } from '@surge/results';
import type { TimelineRecorder } from '@surge/scale-report';
import type { WorkloadStatus } from '@surge/supervisor';
import type { ProducerClient } from './producer-client.ts';
import type { Progress } from './progress.ts';

export interface RunSamplerOptions {
  readonly client: ProducerClient;
  readonly loadId: string;
  readonly queue: QueueClient;
  readonly sink: ResultSink;
  readonly recorder: TimelineRecorder;
  readonly progress: Progress;
  readonly startedAt: number;
  readonly total: number;
}

export class RunSampler {
  readonly #o: RunSamplerOptions;
  #status: LoadStatus | undefined;
  #depth: QueueDepth | undefined;
  #results = 0;

  constructor(options: RunSamplerOptions) {
    this.#o = options;
  }

  get status(): LoadStatus | undefined {
    return this.#status;
  }
  get depth(): QueueDepth | undefined {
    return this.#depth;
  }
  get results(): number {
    return this.#results;
  }

  /** The starting point: the load is submitted and no worker runs yet. */
  async recordStart(workloads: readonly string[]): Promise<void> {
    const depth = await this.#o.queue.depth().catch(() => undefined);
    this.#depth = depth;
    this.#o.recorder.record({
      at: this.#o.startedAt,
      depth: depth === undefined ? null : depth.ready + depth.inFlight,
      ready: depth?.ready ?? null,
      inFlight: depth?.inFlight ?? null,
      deadLettered: depth?.deadLettered ?? null,
      replicas: Object.fromEntries(workloads.map((w) => [w, 0])),
      desired: Object.fromEntries(workloads.map((w) => [w, 0])),
      results: 0,
    });
  }

  async sample(now: number, workloads: readonly WorkloadStatus[]): Promise<void> {
    const [s, d, r] = await Promise.allSettled([
      this.#o.client.status(this.#o.loadId),
      this.#o.queue.depth(),
      this.#o.sink.list(this.#o.loadId),
    ]);
    if (s.status === 'fulfilled') this.#status = s.value;
    if (d.status === 'fulfilled') this.#depth = d.value;
    if (r.status === 'fulfilled') this.#results = r.value.length;
    this.#o.recorder.record({
      at: now,
      depth: d.status === 'fulfilled' ? d.value.ready + d.value.inFlight : null,
      ready: d.status === 'fulfilled' ? d.value.ready : null,
      inFlight: d.status === 'fulfilled' ? d.value.inFlight : null,
      deadLettered: d.status === 'fulfilled' ? d.value.deadLettered : null,
      replicas: Object.fromEntries(workloads.map((x) => [x.workload, x.running])),
      desired: Object.fromEntries(workloads.map((x) => [x.workload, x.desired])),
      results: this.#results,
    });
    this.#o.progress.update({
      elapsedMs: now - this.#o.startedAt,
      total: this.#o.total,
      sent: this.#status?.sent ?? 0,
      results: this.#results,
      depth: this.#depth,
      workloads,
    });
  }
}
