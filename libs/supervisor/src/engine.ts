/**
 * The control loop of KEDA and the HPA, once, for every pod runtime: every `tickMs` it ticks each
 * controller with the clock's time (the controllers' own due rules decide whether a KEDA poll, an HPA
 * sync or a ScaledJob poll runs), then runs the tasks that are due (sampling, chaos, end detection).
 * keda-local drives it with the wall clock over real processes; the simulator with a virtual clock
 * over modelled pods. It never touches a real timer except through its Clock.
 */
import { sleepOn, type Clock } from './clock.ts';
import type { WorkloadStatus } from './controllers.ts';

/** What the engine needs of a controller (`ScaledObjectController` and `ScaledJobController` are ones). */
export interface ScalingController {
  readonly workload: string;
  tick(now: number): Promise<void>;
  status(): WorkloadStatus;
  /** Back to zero (ScaledObject) or every Job finished (ScaledJob), and no pod left. */
  readonly idle: boolean;
}

/** Work beside the controllers, on the same clock: runs on the first tick at or after each period. */
export interface EngineTask {
  readonly name: string;
  readonly everyMs: number;
  /** false: the first run is one period after `run()` started (default true: on the first tick). */
  readonly immediate?: boolean;
  run(now: number, engine: ScalingEngine): void | Promise<void>;
}

export interface ScalingEngineOptions {
  readonly clock: Clock;
  readonly controllers: readonly ScalingController[];
  /** Loop period; KEDA's and the HPA's intervals are whole seconds, so 250 ms keeps them on time. Default 250. */
  readonly tickMs?: number;
  readonly tasks?: readonly EngineTask[];
  /** A controller tick or a task that threw; the loop goes on (as KEDA's would after a failed reconcile). */
  readonly onError?: (error: unknown, source: string) => void;
}

export interface EngineStatus {
  readonly now: number;
  readonly ticks: number;
  readonly running: boolean;
  /** Why `run()` ended (`stop(reason)`, or `interrupted` for an aborted signal); undefined while running. */
  readonly stopReason: string | undefined;
  readonly idle: boolean;
  readonly workloads: readonly WorkloadStatus[];
}

export const DEFAULT_TICK_MS = 250;

export class ScalingEngine {
  readonly clock: Clock;
  readonly controllers: readonly ScalingController[];
  readonly tickMs: number;
  readonly #tasks: readonly EngineTask[];
  readonly #lastRun = new Map<EngineTask, number>();
  readonly #onError: (error: unknown, source: string) => void;
  #ticks = 0;
  #running = false;
  #stopReason: string | undefined;
  #wake: AbortController | undefined;

  constructor(options: ScalingEngineOptions) {
    this.clock = options.clock;
    this.controllers = options.controllers;
    this.tickMs = options.tickMs ?? DEFAULT_TICK_MS;
    if (!Number.isFinite(this.tickMs) || this.tickMs <= 0)
      throw new RangeError(`tickMs: expected a positive number of milliseconds, got ${this.tickMs}`);
    this.#tasks = options.tasks ?? [];
    this.#onError = options.onError ?? (() => {});
  }

  /** One pass at the clock's now: every controller (concurrently), then the due tasks in order. */
  async tick(): Promise<void> {
    const now = this.clock.now();
    this.#ticks += 1;
    // KEDA's loops first: the tasks then see what the controllers just did.
    await Promise.all(this.controllers.map((c) => c.tick(now).catch((error: unknown) => this.#onError(error, c.workload))));
    for (const task of this.#tasks) {
      if (this.#stopReason !== undefined) break;
      const last = this.#lastRun.get(task);
      if (last !== undefined && now - last < task.everyMs) continue;
      this.#lastRun.set(task, now);
      try {
        await task.run(now, this);
      } catch (error) {
        this.#onError(error, task.name);
      }
    }
  }

  /**
   * Ticks every `tickMs` until `stop(reason)` is called (by a task or from outside) or `signal`
   * aborts; resolves with the reason. A tick in progress always finishes first.
   */
  async run(signal?: AbortSignal): Promise<string> {
    if (this.#running) throw new Error('ScalingEngine.run: already running');
    this.#running = true;
    this.#stopReason = undefined;
    this.#wake = new AbortController();
    const start = this.clock.now();
    for (const task of this.#tasks) {
      if (task.immediate === false) this.#lastRun.set(task, start);
      else this.#lastRun.delete(task);
    }
    // One listener for the whole run (not a combined signal per sleep: a long simulation ticks a lot).
    const onAbort = () => this.stop('interrupted');
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        if (signal?.aborted) onAbort();
        if (this.#stopReason !== undefined) return this.#stopReason;
        await this.tick();
        if (this.#stopReason !== undefined) return this.#stopReason;
        await sleepOn(this.clock, this.tickMs, this.#wake.signal);
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.#running = false;
    }
  }

  /** Ends `run()` after the current tick (the first reason given wins). */
  stop(reason: string): void {
    this.#stopReason ??= reason;
    this.#wake?.abort();
  }

  /** Every controller idle: back to zero, no Job unfinished, no pod left. */
  get idle(): boolean {
    return this.controllers.every((c) => c.idle);
  }

  workloads(): WorkloadStatus[] {
    return this.controllers.map((c) => c.status());
  }

  status(): EngineStatus {
    return {
      now: this.clock.now(),
      ticks: this.#ticks,
      running: this.#running,
      stopReason: this.#stopReason,
      idle: this.idle,
      workloads: this.workloads(),
    };
  }
}
