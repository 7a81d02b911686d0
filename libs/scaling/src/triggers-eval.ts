import { ScalingInputError } from './errors.ts';
import type { TriggerReading, TriggerSpec } from './spec.ts';

/** One trigger as KEDA's poll sees it, for the decision log. */
export interface TriggerEvaluation {
  readonly index: number;
  readonly type: TriggerSpec['type'];
  readonly metricName: string;
  /** Raw value read by the caller; absent when the read failed. */
  readonly value?: number;
  readonly error?: string;
  readonly target: number;
  readonly activationTarget: number;
  /** `value > activationTarget`, on the raw value; an errored trigger is never active. */
  readonly active: boolean;
}

export function checkReadings(owner: string, triggers: readonly TriggerSpec[], readings: readonly TriggerReading[]): void {
  if (readings.length !== triggers.length) {
    throw new ScalingInputError(
      `${owner}: expected ${triggers.length} trigger readings (one per trigger, in order), got ${readings.length}`,
    );
  }
}

export function evaluateTrigger(trigger: TriggerSpec, reading: TriggerReading): TriggerEvaluation {
  const base = {
    index: trigger.index,
    type: trigger.type,
    metricName: trigger.metricName,
    target: trigger.target,
    activationTarget: trigger.activationTarget,
  };
  if ('error' in reading) return { ...base, error: reading.error, active: false };
  // Strictly greater: with the default activation 0, one message activates.
  return { ...base, value: reading.value, active: reading.value > trigger.activationTarget };
}
