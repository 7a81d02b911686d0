/**
 * Queue depth for a fixed set of queues, read through `QueueClient.depth()` and shielded from load:
 *
 * - a reading (good or failed) is reused for `minIntervalMs`, so the broker sees at most one depth call
 *   per queue per interval whatever the number of scrapers and API callers;
 * - callers that arrive while a read is in flight wait for that read (single flight);
 * - a failed read is served as a failure — never as the last good value — until the next read.
 *
 * Clients are opened lazily and re-opened after a failure, so a process that starts while the
 * broker is down keeps answering (with `ok: false`) and recovers on its own.
 */
import { errorMessage, isSurgeError, withTimeout } from '@surge/core';
import { QueueError, type QueueClient, type QueueDepth } from '@surge/queue-adapters';

/**
 * Why a backend's depth is not a usable count, or undefined when it is. KEDA acts on whatever number
 * it is given (a negative `ready` or a `total` of 1e308 would scale to nonsense), so every count must
 * be a non-negative integer that stays exact in JSON, and so must their sum (`total`).
 */
export function invalidDepth(depth: QueueDepth): string | undefined {
  for (const [name, value] of [
    ['ready', depth.ready],
    ['inFlight', depth.inFlight],
    ['deadLettered', depth.deadLettered],
  ] as const) {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)
      return `${name} is ${String(value)}, expected a non-negative integer up to 2^53 - 1`;
  }
  if (!Number.isSafeInteger(depth.ready + depth.inFlight)) return 'ready + inFlight exceeds 2^53 - 1';
  return undefined;
}

export interface QueueDepthFailure {
  code: string;
  message: string;
  retryable: boolean;
}

export type QueueDepthReading =
  | { readonly queue: string; readonly ok: true; readonly depth: QueueDepth; readonly observedAt: Date }
  | { readonly queue: string; readonly ok: false; readonly error: QueueDepthFailure; readonly observedAt: Date };

export interface QueueDepthMonitorOptions {
  queues: readonly string[];
  /** Opens the client for one queue (`createQueueClient({ ...config, queue })`). */
  openClient: (queue: string) => Promise<QueueClient>;
  /** Minimum time between two broker reads of the same queue (`DEPTH_CACHE_MS`). */
  minIntervalMs: number;
  /** Bound on one read, client opening included. Default 5000. */
  timeoutMs?: number;
  /** Bound on closing the clients. Default 3000. */
  closeTimeoutMs?: number;
  /** Called after every broker read (not per cached answer) with the failure if it failed, for logging. */
  onRead?: (queue: string, failure: QueueDepthFailure | undefined) => void;
  now?: () => number;
}

interface QueueState {
  client: Promise<QueueClient> | undefined;
  last: { reading: QueueDepthReading; at: number } | undefined;
  inFlight: Promise<QueueDepthReading> | undefined;
  reads: { ok: number; error: number };
}

export class QueueDepthMonitor {
  readonly queues: readonly string[];
  private readonly options: QueueDepthMonitorOptions;
  private readonly states = new Map<string, QueueState>();
  private readonly now: () => number;
  private closed = false;

  constructor(options: QueueDepthMonitorOptions) {
    if (options.queues.length === 0) throw new TypeError('QueueDepthMonitor needs at least one queue');
    this.options = options;
    this.queues = [...new Set(options.queues)];
    this.now = options.now ?? Date.now;
    for (const queue of this.queues)
      this.states.set(queue, { client: undefined, last: undefined, inFlight: undefined, reads: { ok: 0, error: 0 } });
  }

  has(queue: string): boolean {
    return this.states.has(queue);
  }

  /** The depth of one configured queue, from the cache when it is younger than `minIntervalMs`. */
  read(queue: string): Promise<QueueDepthReading> {
    const state = this.states.get(queue);
    if (!state) return Promise.reject(new RangeError(`queue ${queue} is not monitored`));
    if (state.last && this.now() - state.last.at < this.options.minIntervalMs) return Promise.resolve(state.last.reading);
    if (state.inFlight) return state.inFlight;
    const inFlight = this.readFromBroker(queue, state).then((reading) => {
      state.last = { reading, at: this.now() };
      state.inFlight = undefined;
      return reading;
    });
    state.inFlight = inFlight;
    return inFlight;
  }

  /** Broker reads so far (cached answers are not counted): what single-flight and the cache save. */
  brokerReads(queue: string): { ok: number; error: number } {
    const reads = this.states.get(queue)?.reads;
    return reads ? { ...reads } : { ok: 0, error: 0 };
  }

  readAll(): Promise<QueueDepthReading[]> {
    return Promise.all(this.queues.map((queue) => this.read(queue)));
  }

  /** Closes every opened client, each within `closeTimeoutMs`; later reads fail with QUEUE_CLOSED. */
  async close(): Promise<void> {
    this.closed = true;
    const closeTimeoutMs = this.options.closeTimeoutMs ?? 3_000;
    await Promise.all(
      [...this.states.entries()].map(async ([queue, state]) => {
        const client = state.client;
        state.client = undefined;
        if (!client) return;
        try {
          await withTimeout(
            client.then((c) => c.close()),
            closeTimeoutMs,
            `closing the depth client of ${queue}`,
          );
        } catch {
          // A client that never opened or cannot close in time has nothing more to give back.
        }
      }),
    );
  }

  private async readFromBroker(queue: string, state: QueueState): Promise<QueueDepthReading> {
    if (this.closed) return this.failed(queue, { code: 'QUEUE_CLOSED', message: 'the depth monitor is closed', retryable: false });
    try {
      // The opening promise is kept while pending even if this read times out: the next read reuses
      // it rather than opening a second connection. A failed opening is forgotten, so the next read retries.
      if (!state.client) {
        const opening = Promise.resolve().then(() => this.options.openClient(queue));
        state.client = opening;
        opening.catch(() => {
          if (state.client === opening) state.client = undefined;
        });
      }
      const client = state.client;
      const depth = await withTimeout(
        client.then((c) => c.depth()),
        this.options.timeoutMs ?? 5_000,
        `depth of ${queue}`,
      );
      const invalid = invalidDepth(depth);
      if (invalid !== undefined) throw new QueueError('DEPTH_INVALID', `depth of ${queue}: ${invalid}`, { queue });
      state.reads.ok++;
      this.options.onRead?.(queue, undefined);
      return {
        queue,
        ok: true,
        depth: { ready: depth.ready, inFlight: depth.inFlight, deadLettered: depth.deadLettered },
        observedAt: new Date(this.now()),
      };
    } catch (error) {
      const failure: QueueDepthFailure = isSurgeError(error)
        ? { code: error.code, message: error.message, retryable: error.retryable }
        : { code: 'QUEUE_INTERNAL', message: errorMessage(error), retryable: false };
      // A closed client stays closed: open a fresh one next time.
      if (failure.code === 'QUEUE_CLOSED' && state.client) {
        const stale = state.client;
        state.client = undefined;
        stale.then((c) => c.close()).catch(() => {});
      }
      state.reads.error++;
      this.options.onRead?.(queue, failure);
      return this.failed(queue, failure);
    }
  }

  private failed(queue: string, error: QueueDepthFailure): QueueDepthReading {
    return { queue, ok: false, error, observedAt: new Date(this.now()) };
  }
}
