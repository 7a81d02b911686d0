import { describe, expect, it } from 'vitest';
import { combineScalers, createScaledJobState, scaledJobDue, scaledJobPoll, type TriggerReading } from './index.ts';
import { at, rabbitTrigger, scaledJob, serviceBusTrigger } from '../test/fixtures.ts';

const v = (value: number): TriggerReading => ({ value });

function poll(spec: Record<string, unknown>, readings: TriggerReading[], runningJobs = 0, pendingJobs = 0) {
  return scaledJobPoll(createScaledJobState(scaledJob(spec)), { triggers: readings, runningJobs, pendingJobs }, at(0)).decision;
}
const target = (value: number) => ({ triggers: [rabbitTrigger({ value: String(value) })] });

describe('ScaledJob: Jobs per poll (exact)', () => {
  it('docs example: QL=10, T=1, max=3, running=1 → maxScale=3, eff=2 → 2 Jobs', () => {
    const decision = poll({ maxReplicaCount: 3, ...target(1) }, [v(10)], 1);
    expect(decision).toMatchObject({ queueLength: 10, maxScale: 3, effectiveMaxScale: 2, scaleTo: 10, jobsToCreate: 2 });
  });

  it('docs example: QL=4, T=5 → maxScale = ceil(0.8) = 1', () => {
    const decision = poll(target(5), [v(4)]);
    expect(decision).toMatchObject({ maxValue: 0.8, maxScale: 1, jobsToCreate: 1 });
  });

  it('docs example: min=2, max=10, T=1, QL=3, running=2 → MAXP=8, eff=3 → 3 more Jobs', () => {
    const decision = poll({ minReplicaCount: 2, maxReplicaCount: 10, ...target(1) }, [v(3)], 2);
    expect(decision).toMatchObject({ maxParallel: 8, maxScale: 3, effectiveMaxScale: 3, jobsToCreate: 3 });
  });

  it('running < min refills the standby pool, even with an empty queue (min > 0 makes the SJ active)', () => {
    const decision = poll({ minReplicaCount: 3, maxReplicaCount: 10, ...target(1) }, [v(0)], 1);
    expect(decision).toMatchObject({ active: true, effectiveMaxScale: 2, scaleTo: 2, jobsToCreate: 2 });
    expect(decision.reason).toMatch(/standby/);
  });

  it('inactive with min 0 creates nothing', () => {
    expect(poll(target(1), [v(0)])).toMatchObject({ active: false, jobsToCreate: 0 });
  });

  it('the cap is max − min unfinished Jobs', () => {
    expect(poll({ maxReplicaCount: 5, ...target(1) }, [v(1000)], 0)).toMatchObject({ maxScale: 5, jobsToCreate: 5 });
    expect(poll({ maxReplicaCount: 5, ...target(1) }, [v(1000)], 5)).toMatchObject({ effectiveMaxScale: 0, jobsToCreate: 0 });
    expect(poll({ minReplicaCount: 2, maxReplicaCount: 5, ...target(1) }, [v(10)], 2)).toMatchObject({
      maxParallel: 3,
      maxScale: 3,
      jobsToCreate: 3,
    });
  });

  it('min > max: KEDA lets max queue-driven Jobs run on top of the (lowered) standby pool', () => {
    expect(poll({ minReplicaCount: 8, maxReplicaCount: 5, ...target(1) }, [v(1000)], 5)).toMatchObject({
      maxParallel: 5,
      maxScale: 5,
      jobsToCreate: 5,
    });
  });

  it('maxReplicaCount unset: the pool is 100 whatever minReplicaCount is', () => {
    expect(poll({ minReplicaCount: 10, ...target(1) }, [v(1000)], 10)).toMatchObject({
      maxParallel: 100,
      maxScale: 100,
      jobsToCreate: 100,
    });
  });

  it('fractional queue lengths: scaleTo = ceil(QL)', () => {
    expect(poll(target(1), [v(2.2)])).toMatchObject({ maxScale: 3, scaleTo: 3, jobsToCreate: 3 });
  });
});

describe('ScaledJob strategies', () => {
  it('default: eff = maxScale − running; under-spawns when Jobs hide their message', () => {
    expect(poll({ maxReplicaCount: 10, ...target(1) }, [v(10)], 3)).toMatchObject({
      strategy: 'default',
      effectiveMaxScale: 7,
      jobsToCreate: 7,
    });
    expect(poll({ maxReplicaCount: 10, ...target(1) }, [v(2)], 3)).toMatchObject({ effectiveMaxScale: 0, jobsToCreate: 0 });
  });

  it('custom: eff = min(maxScale − deduction − int(running × pct), max − min)', () => {
    const spec = {
      maxReplicaCount: 20,
      scalingStrategy: { strategy: 'custom', customScalingQueueLengthDeduction: 1, customScalingRunningJobPercentage: '0.5' },
      ...target(1),
    };
    // 10 − 1 − int(5 × 0.5 = 2.5 → 2) = 7
    expect(poll(spec, [v(10)], 5)).toMatchObject({ strategy: 'custom', effectiveMaxScale: 7, jobsToCreate: 7 });
  });

  it('accurate: pending Jobs are subtracted; over the cap it fills to max − min − running', () => {
    const spec = (max: number) => ({ maxReplicaCount: max, scalingStrategy: { strategy: 'accurate' }, ...target(1) });
    expect(poll(spec(20), [v(5)], 3, 2)).toMatchObject({ effectiveMaxScale: 3, jobsToCreate: 3 });
    expect(poll(spec(10), [v(10)], 6, 2)).toMatchObject({ effectiveMaxScale: 4, jobsToCreate: 4 });
  });

  it('accurate: the condition includes − pending (code), not the docs’ maxScale + running > max', () => {
    // 8 + 4 − 3 = 9 ≤ 10 → 8 − 3 = 5 (the docs' condition would take 10 − 4 = 6).
    const spec = { maxReplicaCount: 10, scalingStrategy: { strategy: 'accurate' }, ...target(1) };
    expect(poll(spec, [v(8)], 4, 3)).toMatchObject({ effectiveMaxScale: 5, jobsToCreate: 5 });
  });

  it('eager: eff = min(max − min − running − pending, maxScale), scaleTo = max − min', () => {
    const spec = { maxReplicaCount: 10, scalingStrategy: { strategy: 'eager' }, ...target(1) };
    // Jobs took 3 messages out of the count: default would create 0, eager fills to the queue length.
    expect(poll(spec, [v(2)], 3)).toMatchObject({ effectiveMaxScale: 2, scaleTo: 10, jobsToCreate: 2 });
    expect(poll(spec, [v(20)], 3, 2)).toMatchObject({ effectiveMaxScale: 5, jobsToCreate: 5 });
  });
});

describe('ScaledJob: several triggers (multipleScalersCalculation)', () => {
  const two = (calculation: string, second: Record<string, string> = {}) => ({
    maxReplicaCount: 50,
    scalingStrategy: { multipleScalersCalculation: calculation },
    triggers: [rabbitTrigger({ value: '1', activationValue: '-1' }), serviceBusTrigger({ messageCount: '2', ...second })],
  });

  it('max (default): the trigger with the largest QL; an active trigger with QL 0 never makes the SJ active', () => {
    expect(poll(two('max'), [v(4), v(10)])).toMatchObject({ queueLength: 10, maxValue: 5, jobsToCreate: 5 });
    const zero = poll(two('max'), [v(0), v(0)]);
    expect(zero.triggers[0]?.active).toBe(true);
    expect(zero).toMatchObject({ active: false, jobsToCreate: 0 });
  });

  it('min: the smallest QL among active triggers; a 0 is overwritten by any later active trigger', () => {
    expect(poll(two('min'), [v(4), v(10)])).toMatchObject({ queueLength: 4, maxValue: 4, jobsToCreate: 4 });
    expect(poll(two('min'), [v(0), v(10)])).toMatchObject({ queueLength: 10, maxValue: 5, jobsToCreate: 5 });
  });

  it('avg and sum combine QL and MV of the active triggers only', () => {
    expect(poll(two('avg'), [v(4), v(10)])).toMatchObject({ queueLength: 7, maxValue: 4.5, maxScale: 5, jobsToCreate: 5 });
    expect(poll(two('sum'), [v(4), v(10)])).toMatchObject({ queueLength: 14, maxValue: 9, jobsToCreate: 9 });
    // The Service Bus trigger is inactive at 1 ≤ activation 3: only the first counts.
    expect(poll(two('sum', { activationMessageCount: '3' }), [v(4), v(1)])).toMatchObject({ queueLength: 4, maxValue: 4 });
  });

  it('an errored trigger is left out and flagged', () => {
    const decision = poll(two('sum'), [v(4), { error: 'timeout' }]);
    expect(decision).toMatchObject({ isError: true, queueLength: 4, jobsToCreate: 4 });
    expect(decision.triggers[1]).toMatchObject({ error: 'timeout', active: false });
    expect(decision.triggers[1]?.queueLength).toBeUndefined();
  });

  it('combineScalers with no active trigger is inactive and zero', () => {
    expect(combineScalers([{ active: false, queueLength: 9, maxValue: 9 }], 'avg')).toEqual({ active: false, queueLength: 0, maxValue: 0 });
  });
});

describe('ScaledJob state and timing', () => {
  it('polls at loop start and then every pollingInterval; records lastActiveTime', () => {
    const spec = scaledJob({ pollingInterval: 10, ...target(1) });
    let state = createScaledJobState(spec);
    expect(scaledJobDue(state, at(0))).toEqual({ poll: true, nextAt: at(0) });
    state = scaledJobPoll(state, { triggers: [v(3)], runningJobs: 0, pendingJobs: 0 }, at(0)).state;
    expect(state).toMatchObject({ lastPollAt: at(0), lastActiveTime: at(0) });
    expect(scaledJobDue(state, at(9))).toEqual({ poll: false, nextAt: at(10) });
    state = scaledJobPoll(state, { triggers: [v(0)], runningJobs: 3, pendingJobs: 0 }, at(10)).state;
    expect(state.lastActiveTime).toBe(at(0));
  });

  it('rejects negative or fractional Job counts', () => {
    const state = createScaledJobState(scaledJob());
    expect(() => scaledJobPoll(state, { triggers: [v(1)], runningJobs: -1, pendingJobs: 0 }, at(0))).toThrow(/runningJobs/);
  });
});
