/** Chaos for the demo: SIGKILL one running worker at random every period, as a node loss or OOM kill would. */
import type { Logger } from '@surge/telemetry';
import type { EngineTask, Supervisor } from '@surge/supervisor';

export class ChaosKiller implements EngineTask {
  readonly name = 'chaos';
  /** The first kill is one period after the start. */
  readonly immediate = false;
  readonly everyMs: number;
  readonly #workers: Supervisor;
  readonly #logger: Logger;
  readonly #random: () => number;
  #kills = 0;

  constructor(options: { workers: Supervisor; everyMs: number; logger: Logger; random?: () => number }) {
    this.#workers = options.workers;
    this.everyMs = options.everyMs;
    this.#logger = options.logger;
    this.#random = options.random ?? Math.random;
  }

  get kills(): number {
    return this.#kills;
  }

  run(): void {
    const running = this.#workers.active().filter((p) => p.phase === 'Running' && !p.terminating);
    const victim = running[Math.floor(this.#random() * running.length)];
    if (victim && this.#workers.kill(victim.name)) {
      this.#kills += 1;
      this.#logger.warn({ pod: victim.name }, 'chaos: SIGKILL');
    }
  }
}
