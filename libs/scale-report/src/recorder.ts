import type { TimelineSample } from './types.ts';

/**
 * Collects the timeline during a run. Consecutive identical samples are collapsed (only the time
 * moves), so a long idle stretch stays two rows and the charts keep their steps exact.
 */
export class TimelineRecorder {
  readonly #samples: TimelineSample[] = [];
  #lastKey: string | undefined;
  #repeated: TimelineSample | undefined;

  record(sample: TimelineSample): void {
    const { at: _at, ...rest } = sample;
    const key = JSON.stringify(rest);
    if (key === this.#lastKey) {
      this.#repeated = sample;
      return;
    }
    if (this.#repeated) this.#samples.push(this.#repeated);
    this.#repeated = undefined;
    this.#lastKey = key;
    this.#samples.push(sample);
  }

  get samples(): readonly TimelineSample[] {
    return this.#repeated ? [...this.#samples, this.#repeated] : [...this.#samples];
  }

  get last(): TimelineSample | undefined {
    return this.#repeated ?? this.#samples[this.#samples.length - 1];
  }
}
