import { randomUUID } from 'node:crypto';
import type { LoadRequest, LoadStatus } from '@surge/contracts';
import type { QueueClient } from '@surge/queue-adapters';
import { systemClock, type Clock } from './clock.ts';
import { LoadError, LoadErrorCodes } from './errors.ts';
import type { Logger } from '@surge/core';
import { Load, type LoadObserver } from './load.ts';
import { loadBytes, noProperties, type PropertiesFor } from './messages.ts';

export interface LoadRegistryOptions {
  queue: Pick<QueueClient, 'send' | 'queue'>;
  /** Loads pending or running at once; one more is refused with LOAD_LIMIT. */
  maxConcurrentLoads: number;
  /** Largest estimated size of one load (`count` × (payload + envelope)); more is refused with LOAD_TOO_LARGE. Unbounded by default. */
  maxLoadBytes?: number;
  batchSize: number;
  sendRetryMs: number;
  sendTimeoutMs?: number;
  /** Batches in flight for a full-speed load (default 4). */
  sendWindow?: number;
  logger: Logger;
  observer?: LoadObserver;
  propertiesFor?: PropertiesFor;
  clock?: Clock;
  /** Finished loads kept for status and idempotency; the oldest are forgotten first. */
  retainFinished?: number;
}

export interface StartResult {
  status: LoadStatus;
  /** False when a client load id matched an existing load with the same body (an idempotent retry). */
  created: boolean;
}

/**
 * The loads of this process, in memory: a producer replica is the only writer of its loads, and a
 * restart forgets them (the queue keeps what was sent). A client load id makes `start` idempotent.
 */
export class LoadRegistry {
  private readonly loads = new Map<string, Load>();
  private readonly options: LoadRegistryOptions;
  private closed = false;

  constructor(options: LoadRegistryOptions) {
    this.options = options;
  }

  get accepting(): boolean {
    return !this.closed;
  }

  /** Bytes the loads pending or running may still put on the queue (an upper estimate). */
  get pendingBytes(): number {
    let bytes = 0;
    for (const load of this.loads.values()) bytes += load.pendingBytes;
    return bytes;
  }

  /** Loads pending or running. */
  get active(): number {
    let n = 0;
    for (const load of this.loads.values()) if (!load.finished) n++;
    return n;
  }

  /**
   * Starts a load, or returns the existing one when the client load id was seen with the same body.
   * Throws LoadError: LOAD_CONFLICT (same id, other body), LOAD_TOO_LARGE, LOAD_LIMIT, LOAD_CLOSED.
   */
  start(request: LoadRequest): StartResult {
    const fingerprint = canonicalJson(request);
    if (request.loadId !== undefined) {
      const existing = this.loads.get(request.loadId);
      if (existing) {
        if (existing.fingerprint !== fingerprint)
          throw new LoadError(LoadErrorCodes.CONFLICT, `load ${request.loadId} exists with a different request`);
        return { status: existing.status(), created: false };
      }
    }
    if (this.closed) throw new LoadError(LoadErrorCodes.CLOSED, 'the producer is shutting down and takes no new loads');
    this.checkSize(request);
    const active = this.active;
    if (active >= this.options.maxConcurrentLoads) {
      throw new LoadError(LoadErrorCodes.LIMIT, `${active} loads are running; the limit is ${this.options.maxConcurrentLoads}`);
    }
    const id = request.loadId ?? randomUUID();
    const load = new Load(id, request, fingerprint, {
      queue: this.options.queue,
      batchSize: this.options.batchSize,
      sendRetryMs: this.options.sendRetryMs,
      sendTimeoutMs: this.options.sendTimeoutMs,
      sendWindow: this.options.sendWindow,
      clock: this.options.clock ?? systemClock,
      logger: this.options.logger,
      observer: this.options.observer ?? {},
      propertiesFor: this.options.propertiesFor ?? noProperties,
    });
    this.loads.set(id, load);
    void load.done.then(() => this.forgetOldFinished());
    return { status: load.status(), created: true };
  }

  /** Throws LOAD_TOO_LARGE when the load would put more than `maxLoadBytes` on the queue. */
  checkSize(request: Pick<LoadRequest, 'count' | 'payloadBytes'>): void {
    const bytes = loadBytes(request);
    if (this.options.maxLoadBytes !== undefined && bytes > this.options.maxLoadBytes) {
      throw new LoadError(
        LoadErrorCodes.TOO_LARGE,
        `count × (payloadBytes + ${loadBytes({ count: 1 })} bytes of envelope) ≈ ${bytes} bytes is over the ${this.options.maxLoadBytes} bytes one load may send`,
      );
    }
  }

  get(id: string): LoadStatus | undefined {
    return this.loads.get(id)?.status();
  }

  /** Newest first. */
  list(): LoadStatus[] {
    return [...this.loads.values()].reverse().map((load) => load.status());
  }

  /** Asks a load to stop (no-op once finished); undefined if unknown. The returned status may still say running. */
  cancel(id: string): LoadStatus | undefined {
    const load = this.loads.get(id);
    load?.cancel();
    return load?.status();
  }

  /** Resolves with the final status of a load. */
  async waitFor(id: string): Promise<LoadStatus | undefined> {
    return this.loads.get(id)?.done;
  }

  /**
   * Takes no new loads, lets running ones finish for `waitMs`, then cancels the rest and waits for
   * their in-flight batch. Returns the final status of every load that was running.
   */
  async shutdown(waitMs: number, clock: Clock = this.options.clock ?? systemClock): Promise<LoadStatus[]> {
    this.closed = true;
    const running = [...this.loads.values()].filter((load) => !load.finished);
    if (running.length === 0) return [];
    const all = Promise.all(running.map((load) => load.done));
    const stop = new AbortController();
    await Promise.race([all, clock.sleep(waitMs, stop.signal)]);
    stop.abort();
    for (const load of running) load.cancel();
    return all;
  }

  private forgetOldFinished(): void {
    const keep = this.options.retainFinished ?? 1_000;
    let finished = 0;
    for (const load of this.loads.values()) if (load.finished) finished++;
    for (const [id, load] of this.loads) {
      if (finished <= keep) break;
      if (load.finished) {
        this.loads.delete(id);
        finished--;
      }
    }
  }
}

/** JSON with object keys sorted, so two bodies that mean the same compare equal. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}
