/**
 * The HPA's arithmetic (kubernetes `pkg/controller/podautoscaler`: replica_calculator.go, horizontal.go),
 * as pure functions over explicit history. Times are epoch milliseconds.
 *
 * Explained, with the upstream functions at kubernetes v1.35.0, in docs/keda-semantics.md:
 * #hpa-replicas-per-metric-and-the-tolerance, #hpa-stabilization-without-behavior, #hpa-behavior-policies,
 * #metric-values-reach-the-hpa-as-milli-quantities.
 */
import type { HpaBehavior, HpaScalingRules, MetricTargetType } from './spec.ts';

export interface Tolerances {
  readonly scaleUp: number;
  readonly scaleDown: number;
}

/**
 * Recent controllers: `1 - down <= r <= 1 + up`, in float64. At exactly ±10% this keeps the current count
 * (11/10 and 1+0.1 are the same double); older controllers tested `|1 - r| <= tol` and scaled.
 */
export function isWithinTolerance(ratio: number, tolerances: Tolerances): boolean {
  return 1 - tolerances.scaleDown <= ratio && ratio <= 1 + tolerances.scaleUp;
}

/**
 * KEDA hands values to the HPA as milli-quantities (`%.3f`); NaN, ±Inf and negatives become 0.
 * Activation, by contrast, sees the raw value.
 */
export function toMilli(value: number): number {
  if (!Number.isFinite(value) || value < 0) return 0;
  return Math.round(value * 1000);
}

export interface ExternalMetricInput {
  readonly metricType: MetricTargetType;
  /** Raw metric value (summed over series). */
  readonly value: number;
  readonly target: number;
  /** `scale.spec.replicas`. */
  readonly specReplicas: number;
  /** `scale.status.replicas` (pods that exist). */
  readonly statusReplicas: number;
  /** `scale.status.readyReplicas`. */
  readonly readyReplicas: number;
  readonly tolerances: Tolerances;
}

export interface ExternalMetricResult {
  readonly replicas: number;
  readonly ratio: number;
  readonly withinTolerance: boolean;
}

/** Desired replicas for one External metric: `GetExternalPerPodMetricReplicas` / `GetExternalMetricReplicas`. */
export function externalMetricReplicas(input: ExternalMetricInput): ExternalMetricResult {
  const usage = toMilli(input.value);
  const target = toMilli(input.target);
  if (input.metricType === 'AverageValue') {
    // The count itself is only in the tolerance test: ceil(M / T) means "T per replica".
    const ratio = usage / (target * input.statusReplicas);
    const withinTolerance = isWithinTolerance(ratio, input.tolerances);
    return { replicas: withinTolerance ? input.statusReplicas : Math.ceil(usage / target), ratio, withinTolerance };
  }
  const ratio = usage / target;
  if (input.specReplicas === 0) return { replicas: Math.ceil(ratio), ratio, withinTolerance: false };
  const withinTolerance = isWithinTolerance(ratio, input.tolerances);
  return { replicas: withinTolerance ? input.specReplicas : Math.ceil(ratio * input.readyReplicas), ratio, withinTolerance };
}

export interface TimedRecommendation {
  readonly at: number;
  readonly replicas: number;
}

export interface TimedScaleEvent {
  readonly at: number;
  /** Always positive: pods added (scale-up list) or removed (scale-down list). */
  readonly change: number;
}

export interface NormalizeResult {
  readonly replicas: number;
  /** After stabilization, before rate limits and bounds. */
  readonly stabilized: number;
  readonly recommendations: readonly TimedRecommendation[];
  /** Why the result differs from the metrics' wish, for the decision log. */
  readonly limitedBy: 'none' | 'stabilization' | 'scale-up-limit' | 'scale-down-limit' | 'min-replicas' | 'max-replicas';
}

/**
 * `behavior` unset: keep the max recommendation of the downscale window (inclusive of its start),
 * then clamp to [min, min(max, max(2×current, 4))].
 */
export function normalizeLegacy(args: {
  readonly now: number;
  readonly currentReplicas: number;
  readonly desiredReplicas: number;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly recommendations: readonly TimedRecommendation[];
  readonly downscaleStabilizationSeconds: number;
}): NormalizeResult {
  const cutoff = args.now - args.downscaleStabilizationSeconds * 1000;
  const recent = args.recommendations.filter((rec) => rec.at >= cutoff);
  const stabilized = recent.reduce((max, rec) => Math.max(max, rec.replicas), args.desiredReplicas);
  const recommendations = [...recent, { at: args.now, replicas: args.desiredReplicas }];

  const scaleUpLimit = Math.max(2 * args.currentReplicas, 4);
  const maximumAllowed = Math.min(args.maxReplicas, scaleUpLimit);
  if (stabilized < args.minReplicas) return { replicas: args.minReplicas, stabilized, recommendations, limitedBy: 'min-replicas' };
  if (stabilized > maximumAllowed) {
    const limitedBy = maximumAllowed === args.maxReplicas ? 'max-replicas' : 'scale-up-limit';
    return { replicas: maximumAllowed, stabilized, recommendations, limitedBy };
  }
  return { replicas: stabilized, stabilized, recommendations, limitedBy: stabilized === args.desiredReplicas ? 'none' : 'stabilization' };
}

function changeInPeriod(events: readonly TimedScaleEvent[], now: number, periodSeconds: number): number {
  const cutoff = now - periodSeconds * 1000;
  return events.filter((event) => event.at > cutoff).reduce((sum, event) => sum + event.change, 0);
}

/** `calculateScaleUpLimitWithScalingRules`. */
export function scaleUpLimit(
  currentReplicas: number,
  rules: HpaScalingRules,
  upEvents: readonly TimedScaleEvent[],
  downEvents: readonly TimedScaleEvent[],
  now: number,
): number {
  if (rules.selectPolicy === 'Disabled') return currentReplicas;
  const proposals = rules.policies.map((policy) => {
    const start =
      currentReplicas - changeInPeriod(upEvents, now, policy.periodSeconds) + changeInPeriod(downEvents, now, policy.periodSeconds);
    return policy.type === 'Pods' ? start + policy.value : Math.ceil(start * (1 + policy.value / 100));
  });
  // Max picks the largest allowed change, Min the smallest.
  return rules.selectPolicy === 'Min' ? Math.min(...proposals) : Math.max(...proposals);
}

/** `calculateScaleDownLimitWithBehaviors`. */
export function scaleDownLimit(
  currentReplicas: number,
  rules: HpaScalingRules,
  upEvents: readonly TimedScaleEvent[],
  downEvents: readonly TimedScaleEvent[],
  now: number,
): number {
  if (rules.selectPolicy === 'Disabled') return currentReplicas;
  const proposals = rules.policies.map((policy) => {
    const start =
      currentReplicas - changeInPeriod(upEvents, now, policy.periodSeconds) + changeInPeriod(downEvents, now, policy.periodSeconds);
    return policy.type === 'Pods' ? start - policy.value : Math.trunc(start * (1 - policy.value / 100));
  });
  // For scale-down the largest change is the smallest count.
  return rules.selectPolicy === 'Min' ? Math.max(...proposals) : Math.min(...proposals);
}

/**
 * `behavior` set: stabilize between the min of the scale-up window and the max of the scale-down
 * window (both strictly newer than their cutoff), then apply the policies' rate limits and the bounds.
 */
export function normalizeWithBehavior(args: {
  readonly now: number;
  readonly currentReplicas: number;
  readonly desiredReplicas: number;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly behavior: HpaBehavior;
  readonly recommendations: readonly TimedRecommendation[];
  readonly scaleUpEvents: readonly TimedScaleEvent[];
  readonly scaleDownEvents: readonly TimedScaleEvent[];
  readonly downscaleStabilizationSeconds: number;
}): NormalizeResult {
  const upWindow = args.behavior.scaleUp.stabilizationWindowSeconds ?? 0;
  const downWindow = args.behavior.scaleDown.stabilizationWindowSeconds ?? args.downscaleStabilizationSeconds;
  const upCutoff = args.now - upWindow * 1000;
  const downCutoff = args.now - downWindow * 1000;
  let up = args.desiredReplicas;
  let down = args.desiredReplicas;
  for (const rec of args.recommendations) {
    if (rec.at > upCutoff) up = Math.min(up, rec.replicas);
    if (rec.at > downCutoff) down = Math.max(down, rec.replicas);
  }
  let stabilized = args.currentReplicas;
  if (stabilized < up) stabilized = up;
  if (stabilized > down) stabilized = down;
  const keepFrom = Math.min(upCutoff, downCutoff);
  const recommendations = [...args.recommendations.filter((rec) => rec.at >= keepFrom), { at: args.now, replicas: args.desiredReplicas }];
  const stabilizedLimit = stabilized === args.desiredReplicas ? 'none' : 'stabilization';

  if (stabilized > args.currentReplicas) {
    const limit = Math.max(
      scaleUpLimit(args.currentReplicas, args.behavior.scaleUp, args.scaleUpEvents, args.scaleDownEvents, args.now),
      args.currentReplicas,
    );
    const maximumAllowed = Math.min(args.maxReplicas, limit);
    if (stabilized > maximumAllowed) {
      const limitedBy = maximumAllowed === args.maxReplicas ? 'max-replicas' : 'scale-up-limit';
      return { replicas: maximumAllowed, stabilized, recommendations, limitedBy };
    }
  } else if (stabilized < args.currentReplicas) {
    const limit = Math.min(
      scaleDownLimit(args.currentReplicas, args.behavior.scaleDown, args.scaleUpEvents, args.scaleDownEvents, args.now),
      args.currentReplicas,
    );
    const minimumAllowed = Math.max(args.minReplicas, limit);
    if (stabilized < minimumAllowed) {
      const limitedBy = minimumAllowed === args.minReplicas ? 'min-replicas' : 'scale-down-limit';
      return { replicas: minimumAllowed, stabilized, recommendations, limitedBy };
    }
  }
  return { replicas: stabilized, stabilized, recommendations, limitedBy: stabilizedLimit };
}

/** The longest policy period of a direction: older scale events can no longer matter. */
export function longestPolicyPeriodSeconds(rules: HpaScalingRules): number {
  return rules.policies.reduce((max, policy) => Math.max(max, policy.periodSeconds), 0);
}
