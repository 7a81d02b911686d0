/**
 * Confirmed messages per second over a sliding window, from (time, total) samples taken after each
 * batch. Memory is bounded by the samples inside the window.
 */
export class RateMeter {
  private readonly windowMs: number;
  private times: number[] = [];
  private values: number[] = [];
  private head = 0;

  constructor(windowMs = 5_000) {
    this.windowMs = windowMs;
  }

  record(time: number, total: number): void {
    this.times.push(time);
    this.values.push(total);
    // Keep one sample at or before the window start so the rate covers the whole window.
    while (this.head + 1 < this.times.length && (this.times[this.head + 1] ?? time) <= time - this.windowMs) this.head++;
    if (this.head > 1024) {
      this.times = this.times.slice(this.head);
      this.values = this.values.slice(this.head);
      this.head = 0;
    }
  }

  /** Rate between the oldest sample in the window and `total` at `time`. */
  rate(time: number, total: number): number {
    let i = this.head;
    while (i + 1 < this.times.length && (this.times[i + 1] ?? time) <= time - this.windowMs) i++;
    const t0 = this.times[i];
    const v0 = this.values[i];
    if (t0 === undefined || v0 === undefined || time <= t0) return 0;
    return (total - v0) / ((time - t0) / 1000);
  }
}
