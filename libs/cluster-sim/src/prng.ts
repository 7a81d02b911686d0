/**
 * Seeded randomness (mulberry32): the same seed gives the same sequence on every machine, which
 * `Math.random` cannot. Distributions given by published percentiles are sampled by inverting a
 * piecewise-linear CDF through those points.
 */
export class Prng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Exponential with the given mean (time between Poisson events). */
  exponential(mean: number): number {
    return -Math.log(1 - this.next()) * mean;
  }
}

/** Points (p in (0,1], value) sorted by p; below the first point values fall linearly from `floor`. */
export interface PercentileDistribution {
  readonly floor: number;
  readonly points: readonly { readonly p: number; readonly value: number }[];
}

export function samplePercentiles(dist: PercentileDistribution, u: number): number {
  let prevP = 0;
  let prevV = dist.floor;
  for (const { p, value } of dist.points) {
    if (u <= p) return prevV + ((value - prevV) * (u - prevP)) / (p - prevP);
    prevP = p;
    prevV = value;
  }
  return prevV;
}
