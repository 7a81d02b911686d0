/**
 * A ScaledJob: every `pollingInterval`, KEDA reads the triggers and creates Jobs; it never deletes
 * running ones and has no cooldown and no HPA. `scaledJobPoll` is pure: the caller passes the readings
 * and its running/pending Job counts, and starts `decision.jobsToCreate` Jobs.
 *
 * Rules and their upstream lines: docs/keda-semantics.md#scaledjob-pool-size, #scaledjob-jobs-per-poll,
 * #scaledjob-strategies, #scaledjob-running-and-pending-jobs. Upstream at keda 8b4f083:
 * pkg/scaling/scaledjob/metrics.go (queue length, combining triggers), pkg/scaling/executor/scale_jobs.go
 * (executor, strategies), apis/keda/v1alpha1/scaledjob_types.go (min/max).
 */
import { ScalingInputError } from './errors.ts';
import { toMilli } from './hpa.ts';
import type { MultipleScalersCalculation, ScaledJobSpec, ScaledJobStrategy, TriggerReading } from './spec.ts';
import { checkReadings, evaluateTrigger, type TriggerEvaluation } from './triggers-eval.ts';

export interface ScaledJobState {
  readonly spec: ScaledJobSpec;
  readonly lastActiveTime: number | null;
  readonly lastPollAt: number | null;
}

export function createScaledJobState(spec: ScaledJobSpec): ScaledJobState {
  return { spec, lastActiveTime: null, lastPollAt: null };
}

export function scaledJobDue(state: ScaledJobState, now: number): { poll: boolean; nextAt: number } {
  const nextAt = state.lastPollAt === null ? now : state.lastPollAt + state.spec.pollingIntervalSeconds * 1000;
  return { poll: now >= nextAt, nextAt: Math.max(now, nextAt) };
}

/** The queue-driven pool as KEDA computes it (see `ScaledJobSpec.maxParallelJobs`). */
export function maxParallelJobs(spec: ScaledJobSpec): number {
  return spec.maxParallelJobs;
}

export interface ScaledJobTriggerEvaluation extends TriggerEvaluation {
  /** QL: the value as KEDA passes it on (milli precision, negatives and NaN as 0); absent for errored triggers. */
  readonly queueLength?: number;
  /** MV = min(QL / target, max − min). */
  readonly maxValue?: number;
}

export interface ScalersCombination {
  readonly active: boolean;
  readonly queueLength: number;
  readonly maxValue: number;
}

/**
 * `IsScaledJobActive` over the non-errored triggers: only active ones count. `max` keeps the largest QL
 * (an active trigger with QL 0 never wins), `min` the smallest (a 0 is overwritten by any later active
 * trigger), `avg` and `sum` combine QL and MV.
 */
export function combineScalers(
  triggers: readonly { readonly active: boolean; readonly queueLength: number; readonly maxValue: number }[],
  calculation: MultipleScalersCalculation,
): ScalersCombination {
  let queueLength = 0;
  let maxValue = 0;
  let active = false;
  const activeTriggers = triggers.filter((t) => t.active);
  switch (calculation) {
    case 'min':
      for (const t of activeTriggers) {
        if (queueLength === 0 || t.queueLength < queueLength) ({ queueLength, maxValue, active } = t);
      }
      break;
    case 'avg':
      if (activeTriggers.length > 0) {
        active = true;
        queueLength = activeTriggers.reduce((sum, t) => sum + t.queueLength, 0) / activeTriggers.length;
        maxValue = activeTriggers.reduce((sum, t) => sum + t.maxValue, 0) / activeTriggers.length;
      }
      break;
    case 'sum':
      for (const t of activeTriggers) {
        queueLength += t.queueLength;
        maxValue += t.maxValue;
        active = true;
      }
      break;
    case 'max':
      for (const t of activeTriggers) {
        if (t.queueLength > queueLength) ({ queueLength, maxValue, active } = t);
      }
      break;
  }
  return { active, queueLength, maxValue };
}

export interface StrategyInput {
  readonly strategy: ScaledJobStrategy;
  readonly maxScale: number;
  /** Running Jobs above the standby minimum: `running − min`. */
  readonly runningAboveMin: number;
  readonly pending: number;
  /** `max − min`. */
  readonly maxParallel: number;
  readonly scaleTo: number;
  readonly customScalingQueueLengthDeduction: number;
  readonly customScalingRunningJobPercentage: number;
}

/**
 * `GetEffectiveMaxScale` of each strategy, as at keda 8b4f083 (docs/keda-semantics.md#scaledjob-strategies;
 * https://github.com/kedacore/keda/blob/8b4f083ca8c8c2baf8477e322bd4d16ac4dfa09a/pkg/scaling/executor/scale_jobs.go#L457-L494).
 * Returns [effective max, scaleTo].
 */
export function strategyEffectiveMaxScale(input: StrategyInput): { effectiveMaxScale: number; scaleTo: number } {
  const { maxScale, runningAboveMin: running, pending, maxParallel, scaleTo } = input;
  switch (input.strategy) {
    case 'default':
      // Assumes the metric still counts messages that running Jobs hold.
      return { effectiveMaxScale: maxScale - running, scaleTo };
    case 'custom':
      return {
        effectiveMaxScale: Math.min(
          maxScale - input.customScalingQueueLengthDeduction - Math.trunc(running * input.customScalingRunningJobPercentage),
          maxParallel,
        ),
        scaleTo,
      };
    case 'accurate':
      // The docs omit `- pending` in the condition; the code has it.
      return { effectiveMaxScale: maxScale + running - pending > maxParallel ? maxParallel - running : maxScale - pending, scaleTo };
    case 'eager':
      return { effectiveMaxScale: Math.min(maxParallel - running - pending, maxScale), scaleTo: maxParallel };
  }
}

export interface ScaledJobPollInputs {
  readonly triggers: readonly TriggerReading[];
  /** This SJ's Jobs without a Complete/Failed condition (pending ones included). */
  readonly runningJobs: number;
  /** Unfinished Jobs with no pod Running or Succeeded (or missing `pendingPodConditions`). */
  readonly pendingJobs: number;
}

export interface ScaledJobDecision {
  readonly kind: 'scaledjob-poll';
  readonly scaledJob: string;
  readonly at: number;
  readonly triggers: readonly ScaledJobTriggerEvaluation[];
  readonly multipleScalersCalculation: MultipleScalersCalculation;
  readonly strategy: ScaledJobStrategy;
  /** Active after the combination, or because `minReplicaCount > 0` keeps a standby pool. */
  readonly active: boolean;
  readonly isError: boolean;
  readonly queueLength: number;
  readonly maxValue: number;
  readonly maxParallel: number;
  readonly maxScale: number;
  readonly scaleTo: number;
  readonly runningJobs: number;
  readonly pendingJobs: number;
  readonly effectiveMaxScale: number;
  readonly jobsToCreate: number;
  readonly reason: string;
}

export function scaledJobPoll(
  state: ScaledJobState,
  inputs: ScaledJobPollInputs,
  now: number,
): { state: ScaledJobState; decision: ScaledJobDecision } {
  const { spec } = state;
  checkReadings(`ScaledJob/${spec.name}`, spec.triggers, inputs.triggers);
  for (const [name, value] of [
    ['runningJobs', inputs.runningJobs],
    ['pendingJobs', inputs.pendingJobs],
  ] as const) {
    if (!Number.isInteger(value) || value < 0)
      throw new ScalingInputError(`ScaledJob/${spec.name}: ${name} must be a non-negative integer, got ${value}`);
  }
  const maxParallel = maxParallelJobs(spec);
  const min = spec.minReplicaCount;
  const { strategy, multipleScalersCalculation } = spec.scalingStrategy;

  const triggers: ScaledJobTriggerEvaluation[] = spec.triggers.map((trigger, i) => {
    const evaluation = evaluateTrigger(trigger, inputs.triggers[i] as TriggerReading);
    if (evaluation.value === undefined) return evaluation;
    const queueLength = toMilli(evaluation.value) / 1000;
    return { ...evaluation, queueLength, maxValue: Math.min(queueLength / trigger.target, maxParallel) };
  });
  // Errored triggers are left out of the combination entirely.
  const usable = triggers.flatMap((t) =>
    t.queueLength === undefined ? [] : [{ active: t.active, queueLength: t.queueLength, maxValue: t.maxValue ?? 0 }],
  );
  const combined = combineScalers(usable, multipleScalersCalculation);
  const active = combined.active || min > 0;
  const maxScale = Math.ceil(Math.min(combined.maxValue, maxParallel));
  let scaleTo = Math.ceil(combined.queueLength);

  let effectiveMaxScale: number;
  let how: string;
  if (inputs.runningJobs < min) {
    effectiveMaxScale = min - inputs.runningJobs;
    scaleTo = effectiveMaxScale;
    how = `${inputs.runningJobs} running < minReplicaCount ${min}: refill the standby pool`;
  } else {
    const result = strategyEffectiveMaxScale({
      strategy,
      maxScale,
      runningAboveMin: inputs.runningJobs - min,
      pending: inputs.pendingJobs,
      maxParallel,
      scaleTo,
      customScalingQueueLengthDeduction: spec.scalingStrategy.customScalingQueueLengthDeduction,
      customScalingRunningJobPercentage: spec.scalingStrategy.customScalingRunningJobPercentage,
    });
    effectiveMaxScale = result.effectiveMaxScale;
    scaleTo = result.scaleTo;
    how = `strategy ${strategy}: maxScale ${maxScale}, running above min ${inputs.runningJobs - min}, pending ${inputs.pendingJobs}, max − min ${maxParallel}`;
  }
  effectiveMaxScale = Math.max(effectiveMaxScale, 0);
  const jobsToCreate = active && effectiveMaxScale > 0 ? Math.min(scaleTo, effectiveMaxScale) : 0;

  const reason = !active
    ? 'no active trigger and minReplicaCount 0: no Jobs'
    : `${how} → effective max ${effectiveMaxScale}, scaleTo ${scaleTo}: create ${jobsToCreate}`;
  return {
    state: { ...state, lastPollAt: now, lastActiveTime: active ? now : state.lastActiveTime },
    decision: {
      kind: 'scaledjob-poll',
      scaledJob: spec.name,
      at: now,
      triggers,
      multipleScalersCalculation,
      strategy,
      active,
      isError: triggers.some((t) => t.error !== undefined),
      queueLength: combined.queueLength,
      maxValue: combined.maxValue,
      maxParallel,
      maxScale,
      scaleTo,
      runningJobs: inputs.runningJobs,
      pendingJobs: inputs.pendingJobs,
      effectiveMaxScale,
      jobsToCreate,
      reason,
    },
  };
}
