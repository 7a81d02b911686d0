/**
 * When a demo run is over, decided from one observation at a time (pure: the time is passed in). The
 * run ends when the load has ended, the queue reads empty and every workload is idle — and either
 * every sent message is accounted for, or that state has lasted the settle window. Broker depth can
 * lag (RabbitMQ's management statistics), so an empty reading alone never ends a run early.
 */
import type { LoadStatus } from '@surge/contracts';
import type { QueueDepth } from '@surge/queue-adapters';

/** How long an empty queue with idle workloads ends a run whose results do not add up (lost messages). */
export const SETTLE_MS = 30_000;

export interface RunObservation {
  readonly now: number;
  readonly status: LoadStatus | undefined;
  readonly depth: QueueDepth | undefined;
  /** Results in the store. */
  readonly results: number;
  /** Every controller back to zero with no pod left. */
  readonly idle: boolean;
}

export interface RunEnd {
  /** The load completed (its losses are judged later, from the store). */
  readonly ok: boolean;
  readonly reason: string;
}

export class RunEndDetector {
  readonly #settleMs: number;
  #quietSince: number | undefined;

  constructor(settleMs: number = SETTLE_MS) {
    this.#settleMs = settleMs;
  }

  /** The end of the run, or undefined while it goes on. */
  observe(o: RunObservation): RunEnd | undefined {
    const { status, depth } = o;
    const loadEnded = status !== undefined && status.state !== 'pending' && status.state !== 'running';
    const drained = depth !== undefined && depth.ready + depth.inFlight === 0;
    const accounted = status !== undefined && o.results + (depth?.deadLettered ?? 0) >= status.sent;
    this.#quietSince = loadEnded && drained && o.idle ? (this.#quietSince ?? o.now) : undefined;
    if (this.#quietSince === undefined || !(accounted || o.now - this.#quietSince >= this.#settleMs)) return undefined;
    const ok = status?.state === 'completed';
    return { ok, reason: ok ? 'queue drained and every workload back to zero' : `the load ended ${status?.state}: ${status?.error ?? ''}` };
  }
}
