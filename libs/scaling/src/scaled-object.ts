/**
 * A ScaledObject as two independent loops over one replica count, as on a cluster:
 * - `kedaPoll` every `pollingInterval`: activation, 0 → max(min,1), cooldown → 0 / idle, raise to min;
 * - `hpaSync` every HPA sync period (15 s): 1 ↔ N from the metrics, with tolerance, stabilization and
 *   rate limits; idle while the count is 0.
 * Both are pure: they take the state, the caller's readings and `now` (epoch ms) and return a new state
 * plus a decision record that carries every input and the reason, for the supervisor to log.
 *
 * Rules: docs/keda-semantics.md#who-decides-and-how-often-polling, #activation, #scale-to-zero-and-cooldown,
 * #hpa-several-metrics-missing-metrics, #cached-metrics. Upstream at keda 8b4f083:
 * pkg/scaling/executor/scale_scaledobjects.go (`RequestScale`), pkg/scaling/scale_handler.go (loop, activity);
 * kubernetes v1.35.0 pkg/controller/podautoscaler/horizontal.go (`reconcileAutoscaler`).
 */
import {
  externalMetricReplicas,
  longestPolicyPeriodSeconds,
  normalizeLegacy,
  normalizeWithBehavior,
  type NormalizeResult,
  type TimedRecommendation,
  type TimedScaleEvent,
  type Tolerances,
} from './hpa.ts';
import { ScalingInputError } from './errors.ts';
import {
  HPA_CONTROLLER_DEFAULTS,
  type HpaControllerOptions,
  type MetricTargetType,
  type ScaledObjectSpec,
  type TriggerReading,
} from './spec.ts';
import { checkReadings, evaluateTrigger, type TriggerEvaluation } from './triggers-eval.ts';

export interface ScaledObjectState {
  readonly spec: ScaledObjectSpec;
  readonly controller: HpaControllerOptions;
  /** The SO's creationTimestamp: `initialCooldownPeriod` counts from here. */
  readonly createdAt: number;
  /** The target's `spec.replicas`: what the supervisor should be running. */
  readonly replicas: number;
  /** `status.lastActiveTime`: last poll that was active with replicas > 0 and no error, or the last scale-from-zero. */
  readonly lastActiveTime: number | null;
  readonly lastPoll: { readonly at: number; readonly active: boolean; readonly readings: readonly TriggerReading[] } | null;
  readonly hpa: {
    readonly lastSyncAt: number | null;
    readonly recommendations: readonly TimedRecommendation[];
    readonly scaleUpEvents: readonly TimedScaleEvent[];
    readonly scaleDownEvents: readonly TimedScaleEvent[];
  };
}

export interface CreateScaledObjectStateOptions {
  /** Defaults to `now`. */
  readonly createdAt?: number;
  /** The target's replicas when the SO appears (a Deployment without `replicas:` starts at 1). Default 0. */
  readonly initialReplicas?: number;
  readonly controller?: Partial<HpaControllerOptions>;
}

export function createScaledObjectState(
  spec: ScaledObjectSpec,
  now: number,
  options: CreateScaledObjectStateOptions = {},
): ScaledObjectState {
  const initialReplicas = options.initialReplicas ?? 0;
  if (!Number.isInteger(initialReplicas) || initialReplicas < 0)
    throw new ScalingInputError(`initialReplicas must be a non-negative integer, got ${initialReplicas}`);
  return {
    spec,
    controller: { ...HPA_CONTROLLER_DEFAULTS, ...options.controller },
    createdAt: options.createdAt ?? now,
    replicas: initialReplicas,
    lastActiveTime: null,
    lastPoll: null,
    hpa: { lastSyncAt: null, recommendations: [], scaleUpEvents: [], scaleDownEvents: [] },
  };
}

/** Which loop is due at `now`. KEDA checks at loop start, then every `pollingInterval`; the HPA every sync period. */
export function scaledObjectDue(state: ScaledObjectState, now: number): { kedaPoll: boolean; hpaSync: boolean; nextAt: number } {
  const nextPoll = state.lastPoll === null ? now : state.lastPoll.at + state.spec.pollingIntervalSeconds * 1000;
  const nextSync = state.hpa.lastSyncAt === null ? now : state.hpa.lastSyncAt + state.controller.syncPeriodSeconds * 1000;
  return { kedaPoll: now >= nextPoll, hpaSync: now >= nextSync, nextAt: Math.max(now, Math.min(nextPoll, nextSync)) };
}

// ---------------------------------------------------------------------------------------------------
// KEDA's poll (`RequestScale`)

export type KedaPollAction =
  | 'scale-from-zero'
  | 'scale-to-zero'
  | 'scale-to-idle'
  | 'raise-to-min'
  | 'cooling-down'
  | 'keep-active'
  | 'active-with-errors'
  | 'inactive-with-errors'
  | 'none';

export interface KedaPollDecision {
  readonly kind: 'keda-poll';
  readonly scaledObject: string;
  readonly at: number;
  readonly triggers: readonly TriggerEvaluation[];
  readonly active: boolean;
  readonly isError: boolean;
  readonly fromReplicas: number;
  readonly toReplicas: number;
  readonly action: KedaPollAction;
  readonly lastActiveTimeBefore: number | null;
  readonly lastActiveTime: number | null;
  /** While cooling down: scale-in happens at the first poll strictly after this instant. */
  readonly cooldownEndsAt: number | null;
  readonly reason: string;
}

export interface KedaPollInputs {
  /** One reading per trigger, in trigger order. */
  readonly triggers: readonly TriggerReading[];
}

export function kedaPoll(
  state: ScaledObjectState,
  inputs: KedaPollInputs,
  now: number,
): { state: ScaledObjectState; decision: KedaPollDecision } {
  const { spec } = state;
  checkReadings(`ScaledObject/${spec.name}`, spec.triggers, inputs.triggers);
  const triggers = spec.triggers.map((trigger, i) => evaluateTrigger(trigger, inputs.triggers[i] as TriggerReading));
  const active = triggers.some((t) => t.active);
  const isError = triggers.some((t) => t.error !== undefined);
  const current = state.replicas;
  const min = spec.minReplicaCount;
  const idle = spec.idleReplicaCount;

  let replicas = current;
  let lastActiveTime = state.lastActiveTime;
  let action: KedaPollAction;
  let reason: string;
  let cooldownEndsAt: number | null = null;

  if (active) {
    if ((idle !== null && current < min) || current === 0) {
      replicas = min > 0 ? min : 1;
      lastActiveTime = now;
      action = 'scale-from-zero';
      reason = `a trigger is active with ${current} replicas: KEDA sets ${replicas} (max(min,1)); the HPA takes over from here`;
    } else if (isError) {
      // KEDA marks Ready=Unknown and does not refresh lastActiveTime when a sibling trigger errors.
      action = 'active-with-errors';
      reason = 'a trigger is active but another errored: lastActiveTime is not refreshed';
    } else {
      lastActiveTime = now;
      action = 'keep-active';
      reason = 'a trigger is active: lastActiveTime refreshed; replicas are the HPA’s';
    }
  } else if (isError) {
    action = 'inactive-with-errors';
    reason = 'no trigger active and some errored: KEDA never scales to zero on errors';
  } else if ((idle !== null && current > idle) || (current > 0 && min === 0)) {
    const target = idle ?? 0;
    const measuredFrom = lastActiveTime === null ? state.createdAt : lastActiveTime;
    const period = lastActiveTime === null ? spec.initialCooldownPeriodSeconds : spec.cooldownPeriodSeconds;
    const endsAt = measuredFrom + period * 1000;
    if (now > endsAt) {
      replicas = target;
      action = idle === null ? 'scale-to-zero' : 'scale-to-idle';
      reason =
        lastActiveTime === null
          ? `inactive and never active: initialCooldownPeriod (${period}s) from creation has passed; ${current} → ${target} in one step`
          : `inactive for more than cooldownPeriod (${period}s) since the last active poll; ${current} → ${target} in one step`;
    } else {
      cooldownEndsAt = endsAt;
      action = 'cooling-down';
      reason = `inactive; ${lastActiveTime === null ? 'initialCooldownPeriod' : 'cooldownPeriod'} (${period}s) runs until ${new Date(endsAt).toISOString()}`;
    }
  } else if (idle === null && current < min) {
    replicas = min;
    action = 'raise-to-min';
    reason = `inactive with ${current} replicas, below minReplicaCount ${min}`;
  } else {
    action = 'none';
    reason = current === 0 ? 'inactive at zero' : `inactive at ${current} replicas (minReplicaCount ${min} keeps them)`;
  }

  const decision: KedaPollDecision = {
    kind: 'keda-poll',
    scaledObject: spec.name,
    at: now,
    triggers,
    active,
    isError,
    fromReplicas: current,
    toReplicas: replicas,
    action,
    lastActiveTimeBefore: state.lastActiveTime,
    lastActiveTime,
    cooldownEndsAt,
    reason,
  };
  return {
    state: { ...state, replicas, lastActiveTime, lastPoll: { at: now, active, readings: inputs.triggers } },
    decision,
  };
}

// ---------------------------------------------------------------------------------------------------
// The HPA's sync (`reconcileAutoscaler`)

export interface HpaMetricEvaluation {
  readonly index: number;
  readonly metricName: string;
  readonly metricType: MetricTargetType;
  readonly target: number;
  readonly value?: number;
  readonly error?: string;
  readonly ratio?: number;
  readonly withinTolerance?: boolean;
  /** This metric's proposal. */
  readonly replicas?: number;
}

export type HpaSyncAction = 'scaling-disabled' | 'above-max' | 'below-min' | 'metrics-error' | 'computed';

export interface HpaSyncDecision {
  readonly kind: 'hpa-sync';
  readonly hpa: string;
  readonly at: number;
  /** `scale.spec.replicas` when the sync started. */
  readonly fromReplicas: number;
  readonly statusReplicas: number;
  readonly readyReplicas: number;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly metrics: readonly HpaMetricEvaluation[];
  readonly action: HpaSyncAction;
  /** Max over valid metrics, before normalisation. */
  readonly metricDesired: number | null;
  readonly stabilized: number | null;
  readonly limitedBy: NormalizeResult['limitedBy'] | null;
  readonly toReplicas: number;
  readonly reason: string;
}

export interface HpaSyncInputs {
  /** One reading per trigger, in order: live reads, or `state.lastPoll.readings` for `useCachedMetrics` triggers. */
  readonly triggers: readonly TriggerReading[];
  /** `scale.status.replicas` (pods that exist); defaults to the spec count. */
  readonly statusReplicas?: number;
  /** `scale.status.readyReplicas` (used by Value metrics); defaults to `statusReplicas`. */
  readonly readyReplicas?: number;
}

export function hpaSync(
  state: ScaledObjectState,
  inputs: HpaSyncInputs,
  now: number,
): { state: ScaledObjectState; decision: HpaSyncDecision } {
  const { spec, controller } = state;
  const { minReplicas, maxReplicas, behavior } = spec.hpa;
  checkReadings(`HPA/${spec.hpa.name}`, spec.triggers, inputs.triggers);
  const current = state.replicas;
  const statusReplicas = inputs.statusReplicas ?? current;
  const readyReplicas = inputs.readyReplicas ?? statusReplicas;
  // The controller seeds its history with the count it first sees (`recordInitialRecommendation`).
  const recommendations = state.hpa.lastSyncAt === null ? [{ at: now, replicas: current }] : state.hpa.recommendations;
  const tolerances: Tolerances = {
    scaleUp: behavior?.scaleUp.tolerance ?? controller.tolerance,
    scaleDown: behavior?.scaleDown.tolerance ?? controller.tolerance,
  };

  const base = {
    kind: 'hpa-sync' as const,
    hpa: spec.hpa.name,
    at: now,
    fromReplicas: current,
    statusReplicas,
    readyReplicas,
    minReplicas,
    maxReplicas,
  };
  const finish = (
    decision: Omit<HpaSyncDecision, keyof typeof base>,
    hpaState: Partial<ScaledObjectState['hpa']> = {},
  ): { state: ScaledObjectState; decision: HpaSyncDecision } => {
    const toReplicas = decision.toReplicas;
    let { scaleUpEvents, scaleDownEvents } = state.hpa;
    // Only the HPA's own changes feed its rate limits (KEDA's 0↔1 steps are not recorded), and only with `behavior`.
    if (behavior !== null && toReplicas !== current) {
      if (toReplicas > current) {
        const keepFrom = now - longestPolicyPeriodSeconds(behavior.scaleUp) * 1000;
        scaleUpEvents = [...scaleUpEvents.filter((e) => e.at >= keepFrom), { at: now, change: toReplicas - current }];
      } else {
        const keepFrom = now - longestPolicyPeriodSeconds(behavior.scaleDown) * 1000;
        scaleDownEvents = [...scaleDownEvents.filter((e) => e.at >= keepFrom), { at: now, change: current - toReplicas }];
      }
    }
    return {
      state: {
        ...state,
        replicas: toReplicas,
        hpa: { lastSyncAt: now, recommendations, scaleUpEvents, scaleDownEvents, ...hpaState },
      },
      decision: { ...base, ...decision },
    };
  };

  const unchanged = { metrics: [], metricDesired: null, stabilized: null, limitedBy: null };
  if (current === 0) {
    return finish({
      ...unchanged,
      action: 'scaling-disabled',
      toReplicas: 0,
      reason: 'replicas are 0: the HPA is idle (ScalingDisabled) until KEDA activates',
    });
  }
  if (current > maxReplicas) {
    return finish({
      ...unchanged,
      action: 'above-max',
      toReplicas: maxReplicas,
      reason: `${current} replicas are above maxReplicas ${maxReplicas}`,
    });
  }
  if (current < minReplicas) {
    return finish({
      ...unchanged,
      action: 'below-min',
      toReplicas: minReplicas,
      reason: `${current} replicas are below minReplicas ${minReplicas}`,
    });
  }

  const metrics: HpaMetricEvaluation[] = spec.triggers.map((trigger, i) => {
    const reading = inputs.triggers[i] as TriggerReading;
    const base = { index: trigger.index, metricName: trigger.metricName, metricType: trigger.metricType, target: trigger.target };
    if ('error' in reading) return { ...base, error: reading.error };
    const result = externalMetricReplicas({
      metricType: trigger.metricType,
      value: reading.value,
      target: trigger.target,
      specReplicas: current,
      statusReplicas,
      readyReplicas,
      tolerances,
    });
    return { ...base, value: reading.value, ratio: result.ratio, withinTolerance: result.withinTolerance, replicas: result.replicas };
  });
  const valid = metrics.filter((m) => m.replicas !== undefined);
  const metricDesired = valid.length === 0 ? null : Math.max(...valid.map((m) => m.replicas as number));
  // All metrics failing, or some failing while the rest would scale down: the HPA does nothing.
  if (metricDesired === null || (valid.length < metrics.length && metricDesired < current)) {
    return finish({
      metrics,
      metricDesired,
      stabilized: null,
      limitedBy: null,
      action: 'metrics-error',
      toReplicas: current,
      reason: metricDesired === null ? 'every metric failed: no change' : 'a metric failed and the others would scale down: no change',
    });
  }

  const desired = Math.max(metricDesired, 0);
  const normalized =
    behavior === null
      ? normalizeLegacy({
          now,
          currentReplicas: current,
          desiredReplicas: desired,
          minReplicas,
          maxReplicas,
          recommendations,
          downscaleStabilizationSeconds: controller.downscaleStabilizationSeconds,
        })
      : normalizeWithBehavior({
          now,
          currentReplicas: current,
          desiredReplicas: desired,
          minReplicas,
          maxReplicas,
          behavior,
          recommendations,
          scaleUpEvents: state.hpa.scaleUpEvents,
          scaleDownEvents: state.hpa.scaleDownEvents,
          downscaleStabilizationSeconds: controller.downscaleStabilizationSeconds,
        });
  return finish(
    {
      metrics,
      metricDesired,
      stabilized: normalized.stabilized,
      limitedBy: normalized.limitedBy,
      action: 'computed',
      toReplicas: normalized.replicas,
      reason: describe(current, desired, normalized),
    },
    { recommendations: normalized.recommendations },
  );
}

function describe(current: number, desired: number, result: NormalizeResult): string {
  const head = `metrics want ${desired}`;
  switch (result.limitedBy) {
    case 'none':
      return result.replicas === current ? `${head}: no change` : `${head}: ${current} → ${result.replicas}`;
    case 'stabilization':
      return `${head}, stabilization window holds ${result.stabilized}: ${current} → ${result.replicas}`;
    case 'scale-up-limit':
      return `${head}, stabilized ${result.stabilized}, scale-up rate limit allows ${result.replicas}: ${current} → ${result.replicas}`;
    case 'scale-down-limit':
      return `${head}, stabilized ${result.stabilized}, scale-down rate limit allows ${result.replicas}: ${current} → ${result.replicas}`;
    case 'max-replicas':
      return `${head}, capped at maxReplicas: ${current} → ${result.replicas}`;
    case 'min-replicas':
      return `${head}, raised to minReplicas: ${current} → ${result.replicas}`;
  }
}
