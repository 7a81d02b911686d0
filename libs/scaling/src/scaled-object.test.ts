import { describe, expect, it } from 'vitest';
import {
  createScaledObjectState,
  hpaSync,
  kedaPoll,
  scaledObjectDue,
  type ScaledObjectSpec,
  type ScaledObjectState,
  type TriggerReading,
} from './index.ts';
import { at, rabbitTrigger, scaledObject, serviceBusTrigger } from '../test/fixtures.ts';

const v = (value: number): TriggerReading => ({ value });
const fail = (error = 'broker unreachable'): TriggerReading => ({ error });

/** Runs KEDA polls at the given seconds with one reading each, returning the last state and all decisions. */
function polls(state: ScaledObjectState, steps: [seconds: number, value: TriggerReading][]) {
  const decisions = [];
  for (const [seconds, reading] of steps) {
    const result = kedaPoll(state, { triggers: [reading] }, at(seconds));
    state = result.state;
    decisions.push(result.decision);
  }
  return { state, decisions };
}

function withReplicas(spec: ScaledObjectSpec, replicas: number, createdAtSeconds = 0): ScaledObjectState {
  return createScaledObjectState(spec, at(createdAtSeconds), { initialReplicas: replicas });
}

describe('activation, "active", and scale to zero after the cooldown', () => {
  it('a trigger is active when value > activation, strictly: with the default 0, one message activates', () => {
    const state = withReplicas(scaledObject(), 0);
    expect(kedaPoll(state, { triggers: [v(0)] }, at(1)).decision).toMatchObject({ active: false, toReplicas: 0, action: 'none' });
    expect(kedaPoll(state, { triggers: [v(1)] }, at(1)).decision).toMatchObject({ active: true, toReplicas: 1, action: 'scale-from-zero' });
    const withActivation = withReplicas(scaledObject({ triggers: [serviceBusTrigger({ activationMessageCount: '10' })] }), 0);
    expect(kedaPoll(withActivation, { triggers: [v(10)] }, at(1)).decision.active).toBe(false);
    expect(kedaPoll(withActivation, { triggers: [v(11)] }, at(1)).decision.active).toBe(true);
  });

  it('the SO is active if any trigger is', () => {
    const spec = scaledObject({ triggers: [serviceBusTrigger(), rabbitTrigger()] });
    const { decision } = kedaPoll(withReplicas(spec, 0), { triggers: [v(0), v(3)] }, at(1));
    expect(decision.triggers.map((t) => t.active)).toEqual([false, true]);
    expect(decision).toMatchObject({ active: true, action: 'scale-from-zero', toReplicas: 1 });
  });

  it('scale from zero goes to max(min, 1) and sets lastActiveTime', () => {
    const { state, decision } = kedaPoll(withReplicas(scaledObject({ minReplicaCount: 3 }), 0), { triggers: [v(5)] }, at(10));
    expect(decision).toMatchObject({ fromReplicas: 0, toReplicas: 3, action: 'scale-from-zero', lastActiveTime: at(10) });
    expect(state.replicas).toBe(3);
  });

  it('A new SO with inactive triggers goes to 0 on its first poll (initialCooldownPeriod = 0)', () => {
    const { decision } = kedaPoll(withReplicas(scaledObject(), 3), { triggers: [v(0)] }, at(0.001));
    expect(decision).toMatchObject({ fromReplicas: 3, toReplicas: 0, action: 'scale-to-zero' });
    expect(decision.reason).toMatch(/initialCooldownPeriod/);
  });

  it('initialCooldownPeriod counts from creation while lastActiveTime is nil (strictly after)', () => {
    const state = withReplicas(scaledObject({ initialCooldownPeriod: 60 }), 2);
    const { decisions } = polls(state, [
      [30, v(0)],
      [60, v(0)],
      [60.001, v(0)],
    ]);
    expect(decisions.map((d) => d.action)).toEqual(['cooling-down', 'cooling-down', 'scale-to-zero']);
    expect(decisions[0]?.cooldownEndsAt).toBe(at(60));
  });

  it('→0 happens at the first poll where now > lastActiveTime + cooldownPeriod: (cooldown, cooldown + pollingInterval] after the last active poll', () => {
    const spec = scaledObject({ cooldownPeriod: 300, pollingInterval: 30 });
    const steps: [number, TriggerReading][] = [[0, v(5)]];
    for (let s = 30; s <= 330; s += 30) steps.push([s, v(0)]);
    const { decisions } = polls(withReplicas(spec, 0), steps);
    expect(decisions[0]).toMatchObject({ action: 'scale-from-zero', lastActiveTime: at(0) });
    // 300 s after the last active poll is not yet "more than" the cooldown: the poll at 330 s zeroes.
    expect(decisions.at(-2)).toMatchObject({ at: at(300), action: 'cooling-down', toReplicas: 1, cooldownEndsAt: at(300) });
    expect(decisions.at(-1)).toMatchObject({ at: at(330), action: 'scale-to-zero', toReplicas: 0 });
  });

  it('cooldown boundary: now = lastActive + cooldown keeps replicas, one millisecond later scales in', () => {
    const active = polls(withReplicas(scaledObject({ cooldownPeriod: 120 }), 4), [[0, v(3)]]).state;
    expect(active.lastActiveTime).toBe(at(0));
    expect(kedaPoll(active, { triggers: [v(0)] }, at(120)).decision.action).toBe('cooling-down');
    expect(kedaPoll(active, { triggers: [v(0)] }, at(120.001)).decision).toMatchObject({
      action: 'scale-to-zero',
      fromReplicas: 4,
      toReplicas: 0,
    });
  });

  it('each active poll with replicas > 0 refreshes lastActiveTime and restarts the cooldown', () => {
    const { state, decisions } = polls(withReplicas(scaledObject({ cooldownPeriod: 60 }), 0), [
      [0, v(2)],
      [30, v(1)],
      [60, v(0)],
      [90, v(0)],
      [91, v(0)],
    ]);
    expect(decisions.map((d) => d.action)).toEqual(['scale-from-zero', 'keep-active', 'cooling-down', 'cooling-down', 'scale-to-zero']);
    expect(decisions[1]?.lastActiveTime).toBe(at(30));
    expect(state.replicas).toBe(0);
  });

  it('errors block scale-to-zero; an active trigger whose sibling errors does not refresh lastActiveTime', () => {
    const spec = scaledObject({ cooldownPeriod: 60, triggers: [serviceBusTrigger(), rabbitTrigger()] });
    let state = kedaPoll(withReplicas(spec, 0), { triggers: [v(5), v(0)] }, at(0)).state;
    const partial = kedaPoll(state, { triggers: [v(5), fail()] }, at(30));
    expect(partial.decision).toMatchObject({ active: true, isError: true, action: 'active-with-errors', lastActiveTime: at(0) });
    state = partial.state;
    const blocked = kedaPoll(state, { triggers: [v(0), fail()] }, at(500));
    expect(blocked.decision).toMatchObject({ active: false, isError: true, action: 'inactive-with-errors', toReplicas: 1 });
    expect(blocked.decision.triggers[1]).toMatchObject({ error: 'broker unreachable', active: false });
    // Once the error clears, the cooldown from the last clean active poll (0 s) has long passed.
    expect(kedaPoll(blocked.state, { triggers: [v(0), v(0)] }, at(530)).decision.action).toBe('scale-to-zero');
  });

  it('N→0 in one step, independent of HPA stabilization', () => {
    let state = withReplicas(scaledObject({ cooldownPeriod: 30, pollingInterval: 15 }), 0);
    state = kedaPoll(state, { triggers: [v(50)] }, at(0)).state;
    for (const s of [0, 15, 30, 45]) state = hpaSync(state, { triggers: [v(50)] }, at(s)).state;
    expect(state.replicas).toBe(10);
    // The queue empties: the HPA holds 10 for its 300 s window, KEDA zeroes after 30 s.
    state = kedaPoll(state, { triggers: [v(50)] }, at(45)).state;
    state = hpaSync(state, { triggers: [v(0)] }, at(60)).state;
    expect(state.replicas).toBe(10);
    const { decision } = kedaPoll(state, { triggers: [v(0)] }, at(75.001));
    expect(decision).toMatchObject({ fromReplicas: 10, toReplicas: 0, action: 'scale-to-zero' });
  });

  it('activation only matters for 0↔1: above 0 the HPA scales on the metric even below activation, yet the SO is zeroed after cooldown', () => {
    const spec = scaledObject({ cooldownPeriod: 60, triggers: [serviceBusTrigger({ messageCount: '1', activationMessageCount: '10' })] });
    let state = kedaPoll(withReplicas(spec, 0), { triggers: [v(20)] }, at(0)).state;
    state = hpaSync(state, { triggers: [v(8)] }, at(15)).state;
    expect(state.replicas).toBe(4); // the HPA wants 8, capped by max(2×1, 4)
    state = hpaSync(state, { triggers: [v(8)] }, at(30)).state;
    expect(state.replicas).toBe(8);
    state = kedaPoll(state, { triggers: [v(8)] }, at(30)).state; // 8 ≤ activation 10: inactive
    expect(kedaPoll(state, { triggers: [v(8)] }, at(60.001)).decision).toMatchObject({
      action: 'scale-to-zero',
      fromReplicas: 8,
      toReplicas: 0,
    });
  });

  it('idleReplicaCount: inactive after cooldown → idle; active again → min', () => {
    const spec = scaledObject({ minReplicaCount: 2, idleReplicaCount: 0, cooldownPeriod: 60 });
    const { decisions } = polls(withReplicas(spec, 0), [
      [0, v(3)],
      [30, v(0)],
      [61, v(0)],
      [90, v(1)],
    ]);
    expect(decisions.map((d) => [d.action, d.toReplicas])).toEqual([
      ['scale-from-zero', 2],
      ['cooling-down', 2],
      ['scale-to-idle', 0],
      ['scale-from-zero', 2],
    ]);
  });

  it('minReplicaCount > 0 without idle: inactive never goes below min, and a count below min is raised', () => {
    const spec = scaledObject({ minReplicaCount: 2, cooldownPeriod: 0 });
    expect(kedaPoll(withReplicas(spec, 5), { triggers: [v(0)] }, at(100)).decision).toMatchObject({ action: 'none', toReplicas: 5 });
    expect(kedaPoll(withReplicas(spec, 1), { triggers: [v(0)] }, at(100)).decision).toMatchObject({
      action: 'raise-to-min',
      toReplicas: 2,
    });
  });

  it('the decision carries every input and a reason', () => {
    const { decision } = kedaPoll(withReplicas(scaledObject(), 0), { triggers: [v(7)] }, at(5));
    expect(decision).toEqual({
      kind: 'keda-poll',
      scaledObject: 'worker-deployment',
      at: at(5),
      triggers: [
        {
          index: 0,
          type: 'azure-servicebus',
          metricName: 's0-azure-servicebus-surge-work',
          value: 7,
          target: 5,
          activationTarget: 0,
          active: true,
        },
      ],
      active: true,
      isError: false,
      fromReplicas: 0,
      toReplicas: 1,
      action: 'scale-from-zero',
      lastActiveTimeBefore: null,
      lastActiveTime: at(5),
      cooldownEndsAt: null,
      reason: expect.stringContaining('max(min,1)'),
    });
  });

  it('rejects readings that do not match the triggers', () => {
    expect(() => kedaPoll(withReplicas(scaledObject(), 0), { triggers: [] }, at(0))).toThrow(/expected 1 trigger readings/);
  });
});

describe('HPA: replicas per metric (through the HPA sync)', () => {
  it('Service Bus: 23 messages, messageCount 5, 2 replicas → 5 wanted, capped at max(2×2, 4) = 4 now and 5 on the next sync', () => {
    const state = withReplicas(scaledObject(), 2);
    const first = hpaSync(state, { triggers: [v(23)] }, at(0));
    expect(first.decision).toMatchObject({ action: 'computed', metricDesired: 5, toReplicas: 4, limitedBy: 'scale-up-limit' });
    expect(first.decision.metrics[0]).toMatchObject({ value: 23, target: 5, replicas: 5, withinTolerance: false });
    const second = hpaSync(first.state, { triggers: [v(23)] }, at(15));
    expect(second.decision).toMatchObject({ metricDesired: 5, toReplicas: 5, limitedBy: 'none' });
  });

  it('M=11, T=1, 10 replicas → within tolerance → stays at 10', () => {
    const state = withReplicas(scaledObject({ triggers: [serviceBusTrigger({ messageCount: '1' })] }), 10);
    expect(hpaSync(state, { triggers: [v(11)] }, at(0)).decision).toMatchObject({ metricDesired: 10, toReplicas: 10 });
  });

  it('Value metrics use readyReplicas from the inputs', () => {
    const spec = scaledObject({ triggers: [{ ...serviceBusTrigger({ messageCount: '10' }), metricType: 'Value' }] });
    const { decision } = hpaSync(withReplicas(spec, 4), { triggers: [v(30)], statusReplicas: 4, readyReplicas: 2 }, at(0));
    expect(decision).toMatchObject({ readyReplicas: 2, metricDesired: 6, toReplicas: 6 });
  });
});

describe('HPA: several metrics, missing metrics', () => {
  const twoTriggers = scaledObject({ triggers: [serviceBusTrigger({ messageCount: '1' }), rabbitTrigger({ value: '1' })] });

  it('desired = max over valid metrics', () => {
    const { decision } = hpaSync(withReplicas(twoTriggers, 4), { triggers: [v(3), v(7)] }, at(0));
    expect(decision.metrics.map((m) => m.replicas)).toEqual([3, 7]);
    expect(decision).toMatchObject({ metricDesired: 7, toReplicas: 7 });
  });

  it('all metrics error → no change', () => {
    const { decision } = hpaSync(withReplicas(twoTriggers, 4), { triggers: [fail(), fail()] }, at(0));
    expect(decision).toMatchObject({ action: 'metrics-error', toReplicas: 4, metricDesired: null });
  });

  it('some error and the max < spec.replicas → no change (a failing metric blocks scale-down); at or above spec it proceeds', () => {
    expect(hpaSync(withReplicas(twoTriggers, 4), { triggers: [v(1), fail()] }, at(0)).decision).toMatchObject({
      action: 'metrics-error',
      toReplicas: 4,
    });
    expect(hpaSync(withReplicas(twoTriggers, 4), { triggers: [v(6), fail()] }, at(0)).decision).toMatchObject({
      action: 'computed',
      toReplicas: 6,
    });
  });

  it('cur == 0 → nothing (ScalingDisabled); cur > max → max; cur < min → min', () => {
    expect(hpaSync(withReplicas(twoTriggers, 0), { triggers: [v(50), v(50)] }, at(0)).decision).toMatchObject({
      action: 'scaling-disabled',
      toReplicas: 0,
    });
    expect(hpaSync(withReplicas(scaledObject({ maxReplicaCount: 5 }), 9), { triggers: [v(0)] }, at(0)).decision).toMatchObject({
      action: 'above-max',
      toReplicas: 5,
    });
    expect(hpaSync(withReplicas(scaledObject({ minReplicaCount: 3 }), 1), { triggers: [v(0)] }, at(0)).decision).toMatchObject({
      action: 'below-min',
      toReplicas: 3,
    });
  });
});

describe('HPA: stabilization without behavior (through the HPA sync)', () => {
  it('scale-down waits out the 300 s window over recommendations; the first sync after it drops at once', () => {
    const spec = scaledObject({ triggers: [serviceBusTrigger({ messageCount: '1' })] });
    let state = hpaSync(withReplicas(spec, 10), { triggers: [v(10)] }, at(0)).state;
    const replicas: number[] = [];
    for (let s = 15; s <= 315; s += 15) {
      state = hpaSync(state, { triggers: [v(2)] }, at(s)).state;
      replicas.push(state.replicas);
    }
    expect(replicas.slice(0, -1).every((r) => r === 10)).toBe(true);
    expect(replicas.at(-1)).toBe(2);
  });

  it('the HPA seeds its history with the count it first sees', () => {
    const spec = scaledObject({ triggers: [serviceBusTrigger({ messageCount: '1' })] });
    const { state, decision } = hpaSync(withReplicas(spec, 6), { triggers: [v(1)] }, at(0));
    expect(decision).toMatchObject({ metricDesired: 1, stabilized: 6, toReplicas: 6, limitedBy: 'stabilization' });
    expect(state.hpa.recommendations).toEqual([
      { at: at(0), replicas: 6 },
      { at: at(0), replicas: 1 },
    ]);
  });

  it('max cap', () => {
    const spec = scaledObject({ maxReplicaCount: 6, triggers: [serviceBusTrigger({ messageCount: '1' })] });
    expect(hpaSync(withReplicas(spec, 4), { triggers: [v(100)] }, at(0)).decision).toMatchObject({
      toReplicas: 6,
      limitedBy: 'max-replicas',
    });
  });
});

describe('HPA: behavior policies (through the HPA sync)', () => {
  const spec = scaledObject({
    triggers: [serviceBusTrigger({ messageCount: '1' })],
    advanced: {
      horizontalPodAutoscalerConfig: {
        behavior: {
          scaleUp: { policies: [{ type: 'Pods', value: 2, periodSeconds: 60 }] },
          scaleDown: { stabilizationWindowSeconds: 30, policies: [{ type: 'Pods', value: 1, periodSeconds: 30 }] },
        },
      },
    },
  });

  it('the HPA records its own scale events and rate-limits within the period', () => {
    let result = hpaSync(withReplicas(spec, 1), { triggers: [v(20)] }, at(0));
    expect(result.decision.toReplicas).toBe(3);
    result = hpaSync(result.state, { triggers: [v(20)] }, at(15));
    expect(result.decision).toMatchObject({ toReplicas: 3, limitedBy: 'scale-up-limit' });
    expect(result.state.hpa.scaleUpEvents).toEqual([{ at: at(0), change: 2 }]);
    result = hpaSync(result.state, { triggers: [v(20)] }, at(60));
    expect(result.decision.toReplicas).toBe(5);
  });

  it('scale-down: stabilization window, then one pod per 30 s', () => {
    let state = withReplicas(spec, 5);
    const seen: number[] = [];
    for (let s = 0; s <= 120; s += 15) {
      state = hpaSync(state, { triggers: [v(s === 0 ? 5 : 0)] }, at(s)).state;
      seen.push(state.replicas);
    }
    // 0 s: 5; 15 s: the 0 s recommendation (5) is in the 30 s window; 30 s: window clear → 4; 45 s: limited; 60 s: 3 …
    expect(seen).toEqual([5, 5, 4, 4, 3, 3, 2, 2, 1]);
    expect(state.hpa.scaleDownEvents.length).toBeGreaterThan(0);
  });

  it('KEDA’s own 0 → 1 step is not a scale event', () => {
    const state = kedaPoll(withReplicas(spec, 0), { triggers: [v(20)] }, at(0)).state;
    expect(state.hpa.scaleUpEvents).toEqual([]);
    expect(hpaSync(state, { triggers: [v(20)] }, at(1)).decision.toReplicas).toBe(3);
  });
});

describe('pacing: KEDA polling interval vs the HPA sync period', () => {
  /** Drives both loops on a 1 s clock as a supervisor would: KEDA first when both are due. */
  function run(spec: ScaledObjectSpec, depthAt: (s: number) => number, until: number) {
    let state = createScaledObjectState(spec, at(0));
    const timeline: { s: number; replicas: number; by: string }[] = [];
    for (let s = 0; s <= until; s += 1) {
      const due = scaledObjectDue(state, at(s));
      if (due.kedaPoll) {
        const r = kedaPoll(state, { triggers: [v(depthAt(s))] }, at(s));
        if (r.decision.toReplicas !== r.decision.fromReplicas) timeline.push({ s, replicas: r.decision.toReplicas, by: 'keda' });
        state = r.state;
      }
      if (due.hpaSync) {
        const r = hpaSync(state, { triggers: [v(depthAt(s))] }, at(s));
        if (r.decision.toReplicas !== r.decision.fromReplicas) timeline.push({ s, replicas: r.decision.toReplicas, by: 'hpa' });
        state = r.state;
      }
    }
    return timeline;
  }

  it('0→1 waits up to pollingInterval, then the HPA takes ≤ 15 s more; scale-up is ≤ max(2×cur, 4) per sync', () => {
    const spec = scaledObject({ pollingInterval: 30, maxReplicaCount: 50, triggers: [serviceBusTrigger({ messageCount: '1' })] });
    const timeline = run(spec, (s) => (s >= 1 ? 200 : 0), 120);
    expect(timeline.slice(0, 6)).toEqual([
      { s: 30, replicas: 1, by: 'keda' },
      { s: 30, replicas: 4, by: 'hpa' },
      { s: 45, replicas: 8, by: 'hpa' },
      { s: 60, replicas: 16, by: 'hpa' },
      { s: 75, replicas: 32, by: 'hpa' },
      { s: 90, replicas: 50, by: 'hpa' },
    ]);
  });

  it('scaledObjectDue reports the next instant either loop is due', () => {
    let state = createScaledObjectState(scaledObject({ pollingInterval: 10 }), at(0));
    expect(scaledObjectDue(state, at(0))).toEqual({ kedaPoll: true, hpaSync: true, nextAt: at(0) });
    state = kedaPoll(state, { triggers: [v(0)] }, at(0)).state;
    state = hpaSync(state, { triggers: [v(0)] }, at(0)).state;
    expect(scaledObjectDue(state, at(3))).toEqual({ kedaPoll: false, hpaSync: false, nextAt: at(10) });
    expect(scaledObjectDue(state, at(12))).toMatchObject({ kedaPoll: true, hpaSync: false, nextAt: at(12) });
  });

  it('the last poll’s readings are kept for useCachedMetrics triggers', () => {
    const spec = scaledObject({ triggers: [{ ...serviceBusTrigger(), useCachedMetrics: true }] });
    const { state } = kedaPoll(createScaledObjectState(spec, at(0)), { triggers: [v(12)] }, at(0));
    expect(spec.triggers[0]?.useCachedMetrics).toBe(true);
    expect(state.lastPoll).toEqual({ at: at(0), active: true, readings: [{ value: 12 }] });
  });
});
