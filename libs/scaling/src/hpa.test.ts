import { describe, expect, it } from 'vitest';
import {
  HPA_BEHAVIOR_DEFAULTS,
  externalMetricReplicas,
  isWithinTolerance,
  normalizeLegacy,
  normalizeWithBehavior,
  scaleDownLimit,
  scaleUpLimit,
  toMilli,
  type HpaBehavior,
  type HpaScalingRules,
} from './index.ts';
import { at } from '../test/fixtures.ts';

const tol = { scaleUp: 0.1, scaleDown: 0.1 };
const avg = (value: number, target: number, replicas: number) =>
  externalMetricReplicas({
    metricType: 'AverageValue',
    value,
    target,
    specReplicas: replicas,
    statusReplicas: replicas,
    readyReplicas: replicas,
    tolerances: tol,
  });

describe('HPA: replicas per metric and the tolerance', () => {
  it('AverageValue example: M=11, T=1, 10 replicas → r=1.1, within tolerance → stays at 10 (rule pinned: recent controllers, 1-tol ≤ r ≤ 1+tol)', () => {
    expect(avg(11, 1, 10)).toEqual({ replicas: 10, ratio: 1.1, withinTolerance: true });
  });

  it('Service Bus example: 23 messages, messageCount 5, 2 replicas → ceil(23/5) = 5', () => {
    expect(avg(23, 5, 2).replicas).toBe(5);
  });

  it('AverageValue does not depend on the current count: T means work per replica', () => {
    expect([1, 3, 20].map((replicas) => avg(100, 10, replicas).replicas)).toEqual([10, 10, 10]);
  });

  it('AverageValue uses status.replicas in the ratio and returns it when within tolerance', () => {
    const result = externalMetricReplicas({
      metricType: 'AverageValue',
      value: 40,
      target: 10,
      specReplicas: 6,
      statusReplicas: 4,
      readyReplicas: 4,
      tolerances: tol,
    });
    expect(result).toEqual({ replicas: 4, ratio: 1, withinTolerance: true });
  });

  it('Value: r = M/T; within tolerance → spec replicas, else ceil(r × readyReplicas)', () => {
    const value = (m: number, t: number, spec: number, ready: number) =>
      externalMetricReplicas({
        metricType: 'Value',
        value: m,
        target: t,
        specReplicas: spec,
        statusReplicas: spec,
        readyReplicas: ready,
        tolerances: tol,
      });
    expect(value(105, 100, 4, 4)).toMatchObject({ replicas: 4, withinTolerance: true });
    expect(value(300, 100, 4, 3)).toMatchObject({ replicas: 9, ratio: 3 });
    expect(value(50, 100, 4, 4)).toMatchObject({ replicas: 2 });
  });
});

describe('tolerance boundary', () => {
  it('exactly ±10% is within (float64 1.1 == 1 + 0.1); just beyond scales', () => {
    expect(isWithinTolerance(1.1, tol)).toBe(true);
    expect(isWithinTolerance(0.9, tol)).toBe(true);
    expect(avg(11.001, 1, 10)).toMatchObject({ replicas: 12, withinTolerance: false });
    expect(avg(8.999, 1, 10)).toMatchObject({ replicas: 9, withinTolerance: false });
    expect(avg(9, 1, 10)).toMatchObject({ replicas: 10, withinTolerance: true });
  });

  it('at large N the 10 % tolerance hides small changes: 100 replicas, M=108, T=1 → 100', () => {
    expect(avg(108, 1, 100).replicas).toBe(100);
  });

  it('per-direction tolerances (HPAConfigurableTolerance) are honoured', () => {
    expect(isWithinTolerance(1.04, { scaleUp: 0.05, scaleDown: 0.5 })).toBe(true);
    expect(isWithinTolerance(1.06, { scaleUp: 0.05, scaleDown: 0.5 })).toBe(false);
    expect(isWithinTolerance(0.6, { scaleUp: 0.05, scaleDown: 0.5 })).toBe(true);
  });
});

describe('metric values reach the HPA as milli-quantities', () => {
  it('NaN, ±Inf and negatives are sent as 0; fractions keep three decimals', () => {
    expect([Number.NaN, Number.POSITIVE_INFINITY, -3, 2.5, 0.0004].map(toMilli)).toEqual([0, 0, 0, 2500, 0]);
    expect(avg(-5, 1, 3)).toMatchObject({ replicas: 0 });
    expect(avg(2.5, 0.5, 1).replicas).toBe(5);
  });
});

describe('HPA: stabilization without behavior', () => {
  const legacy = (current: number, desired: number, recs: { at: number; replicas: number }[] = [], now = at(1000), min = 1, max = 100) =>
    normalizeLegacy({
      now,
      currentReplicas: current,
      desiredReplicas: desired,
      minReplicas: min,
      maxReplicas: max,
      recommendations: recs,
      downscaleStabilizationSeconds: 300,
    });

  it('scale-up limit max(2×current, 4): 2 → 4 when 5 are wanted (the Service Bus example)', () => {
    expect(legacy(2, 5)).toMatchObject({ replicas: 4, limitedBy: 'scale-up-limit' });
    expect(legacy(4, 5)).toMatchObject({ replicas: 5, limitedBy: 'none' });
    expect(legacy(1, 50)).toMatchObject({ replicas: 4 });
    expect(legacy(10, 50)).toMatchObject({ replicas: 20 });
  });

  it('max cap wins over the rate limit when lower', () => {
    expect(legacy(10, 50, [], at(1000), 1, 12)).toMatchObject({ replicas: 12, limitedBy: 'max-replicas' });
  });

  it('stabilization keeps the max recommendation of the last 300 s (window start inclusive); scale-down has no rate limit', () => {
    const recs = [
      { at: at(1000 - 300), replicas: 9 },
      { at: at(1000 - 301), replicas: 20 },
      { at: at(1000 - 10), replicas: 3 },
    ];
    const result = legacy(10, 2, recs);
    expect(result).toMatchObject({ replicas: 9, stabilized: 9, limitedBy: 'stabilization' });
    // The sample older than the window is dropped; the new recommendation is stored.
    expect(result.recommendations).toEqual([recs[0], recs[2], { at: at(1000), replicas: 2 }]);
    expect(legacy(10, 2, [])).toMatchObject({ replicas: 2 });
  });

  it('clamps up to minReplicas', () => {
    expect(legacy(3, 0, [], at(1000), 2)).toMatchObject({ replicas: 2, limitedBy: 'min-replicas' });
  });
});

describe('HPA: behavior policies', () => {
  const behavior = (scaleUp: Partial<HpaScalingRules> = {}, scaleDown: Partial<HpaScalingRules> = {}): HpaBehavior => ({
    scaleUp: { ...HPA_BEHAVIOR_DEFAULTS.scaleUp, ...scaleUp },
    scaleDown: { ...HPA_BEHAVIOR_DEFAULTS.scaleDown, ...scaleDown },
  });
  const run = (args: {
    current: number;
    desired: number;
    behavior?: HpaBehavior;
    recs?: { at: number; replicas: number }[];
    up?: { at: number; change: number }[];
    down?: { at: number; change: number }[];
    min?: number;
    max?: number;
  }) =>
    normalizeWithBehavior({
      now: at(1000),
      currentReplicas: args.current,
      desiredReplicas: args.desired,
      minReplicas: args.min ?? 1,
      maxReplicas: args.max ?? 100,
      behavior: args.behavior ?? behavior(),
      recommendations: args.recs ?? [],
      scaleUpEvents: args.up ?? [],
      scaleDownEvents: args.down ?? [],
      downscaleStabilizationSeconds: 300,
    });

  it('default scale-up: max(Pods 4, Percent 100) per 15 s → 3 may become 7, 10 may become 20', () => {
    expect(run({ current: 3, desired: 50 })).toMatchObject({ replicas: 7, limitedBy: 'scale-up-limit' });
    expect(run({ current: 10, desired: 50 })).toMatchObject({ replicas: 20 });
  });

  it('scale-up events in the period count against the limit: start = current − added + removed', () => {
    // 2 pods were added 10 s ago: the period started at 8, so Pods 4 → 12, Percent 100 → 16.
    expect(run({ current: 10, desired: 50, up: [{ at: at(990), change: 2 }] })).toMatchObject({ replicas: 16 });
    // An event exactly one period old no longer counts (strictly newer than the cutoff).
    expect(run({ current: 10, desired: 50, up: [{ at: at(985), change: 2 }] })).toMatchObject({ replicas: 20 });
  });

  it('selectPolicy Min picks the smallest change; Disabled blocks the direction', () => {
    expect(run({ current: 10, desired: 50, behavior: behavior({ selectPolicy: 'Min' }) })).toMatchObject({ replicas: 14 });
    expect(run({ current: 10, desired: 50, behavior: behavior({ selectPolicy: 'Disabled' }) })).toMatchObject({ replicas: 10 });
    expect(
      run({ current: 10, desired: 2, behavior: behavior({}, { selectPolicy: 'Disabled', stabilizationWindowSeconds: 0 }) }),
    ).toMatchObject({ replicas: 10 });
  });

  it('Percent scale-up rounds up: ceil(start × (1 + v/100))', () => {
    const rules = behavior({ policies: [{ type: 'Percent', value: 10, periodSeconds: 60 }] });
    expect(run({ current: 3, desired: 50, behavior: rules })).toMatchObject({ replicas: 4 });
  });

  it('scale-down policies: Pods → start − v; Percent → int(start × (1 − v/100)); Max takes the smallest count, Min the largest', () => {
    const down = (selectPolicy: 'Max' | 'Min') =>
      behavior(
        {},
        {
          stabilizationWindowSeconds: 0,
          selectPolicy,
          policies: [
            { type: 'Pods', value: 2, periodSeconds: 60 },
            { type: 'Percent', value: 25, periodSeconds: 60 },
          ],
        },
      );
    // 10: Pods → 8, Percent → int(7.5) = 7.
    expect(run({ current: 10, desired: 1, behavior: down('Max') })).toMatchObject({ replicas: 7, limitedBy: 'scale-down-limit' });
    expect(run({ current: 10, desired: 1, behavior: down('Min') })).toMatchObject({ replicas: 8 });
    // 3 removed in the period: start 13 → Pods 11 > current: no further scale-down this period.
    expect(run({ current: 10, desired: 1, behavior: down('Min'), down: [{ at: at(970), change: 3 }] })).toMatchObject({ replicas: 10 });
  });

  it('scaleDown stabilization nil uses the controller’s 300 s; the window keeps the max of newer recommendations', () => {
    const recs = [
      { at: at(1000 - 299), replicas: 8 },
      { at: at(1000 - 300), replicas: 30 },
    ];
    expect(run({ current: 10, desired: 2, recs })).toMatchObject({ replicas: 8, stabilized: 8, limitedBy: 'stabilization' });
  });

  it('scaleUp stabilization window keeps the min of newer recommendations', () => {
    const rules = behavior({ stabilizationWindowSeconds: 60 });
    expect(run({ current: 2, desired: 10, behavior: rules, recs: [{ at: at(950), replicas: 3 }] })).toMatchObject({
      stabilized: 3,
      replicas: 3,
    });
  });

  it('caps at maxReplicas and floors at minReplicas', () => {
    expect(run({ current: 10, desired: 50, max: 12 })).toMatchObject({ replicas: 12, limitedBy: 'max-replicas' });
    expect(run({ current: 4, desired: 0, min: 2, behavior: behavior({}, { stabilizationWindowSeconds: 0 }) })).toMatchObject({
      replicas: 2,
      limitedBy: 'min-replicas',
    });
  });

  it('a limit below the current count never scales the other way', () => {
    const rules = behavior({ policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] });
    expect(scaleUpLimit(5, rules.scaleUp, [{ at: at(990), change: 3 }], [], at(1000))).toBe(3);
    expect(run({ current: 5, desired: 9, behavior: rules, up: [{ at: at(990), change: 3 }] })).toMatchObject({ replicas: 5 });
    expect(scaleDownLimit(5, HPA_BEHAVIOR_DEFAULTS.scaleDown, [], [], at(1000))).toBe(0);
  });
});
