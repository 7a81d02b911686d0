/**
 * The controllers over real processes, with the clock passed in: KEDA's and the HPA's decisions come
 * from @surge/scaling; what is checked here is that pods follow them as a cluster's would.
 */
import { describe, expect, it } from 'vitest';
import { parseScaledJob, parseScaledObject, type TriggerReading } from '@surge/scaling';
import { ScaledJobController, ScaledObjectController, Supervisor, type Decision, type ProcessSpec } from '../src/index.ts';

const longRunning = `setInterval(() => {}, 1000); process.on('SIGTERM', () => process.exit(0));`;
const spec = (source: string): ProcessSpec => ({
  command: process.execPath,
  args: ['-e', source],
  cwd: process.cwd(),
  env: {},
  terminationGraceMs: 2000,
});
const trigger = { type: 'metrics-api', metadata: { url: 'http://127.0.0.1:1/api/v1/queues/q', valueLocation: 'total', targetValue: '4' } };

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i += 1) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out: ${what}`);
}

describe('ScaledObjectController', () => {
  it('0 → 1 (KEDA) → 4 (HPA, legacy scale-up limit) → 0 (cooldown), replacing a pod that died', async () => {
    const so = parseScaledObject({
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'ScaledObject',
      metadata: { name: 'worker' },
      spec: { scaleTargetRef: { name: 'worker' }, pollingInterval: 1, cooldownPeriod: 5, maxReplicaCount: 8, triggers: [trigger] },
    }).spec;
    let value = 40;
    const decisions: Decision[] = [];
    const supervisor = new Supervisor();
    const t0 = 1_000_000;
    const controller = new ScaledObjectController({
      workload: 'worker',
      spec: so,
      now: t0,
      hpa: { syncPeriodSeconds: 15 },
      supervisor,
      podSpec: () => spec(longRunning),
      readTriggers: async (): Promise<TriggerReading[]> => [{ value }],
      log: (d) => decisions.push(d),
    });
    try {
      await controller.tick(t0);
      expect(decisions.map((d) => [d.kind, 'action' in d ? d.action : ''])).toEqual([
        ['hpa-sync', 'scaling-disabled'],
        ['keda-poll', 'scale-from-zero'],
      ]);
      expect(controller.status()).toMatchObject({ desired: 1, running: 1 });

      await controller.tick(t0 + 15_000);
      // ceil(40 / 4) = 10 wanted; without `behavior` the step is capped at max(2×1, 4) = 4.
      expect(decisions.at(-2)).toMatchObject({ kind: 'hpa-sync', metricDesired: 10, toReplicas: 4, limitedBy: 'scale-up-limit' });
      expect(controller.status()).toMatchObject({ desired: 4, running: 4 });

      const victim = supervisor.active('worker')[0]!;
      supervisor.kill(victim.name);
      await supervisor.wait(victim.name);
      controller.reconcile();
      expect(controller.status()).toMatchObject({ desired: 4, running: 4, started: 5 });

      value = 0;
      await controller.tick(t0 + 16_000);
      expect(decisions.at(-1)).toMatchObject({ kind: 'keda-poll', action: 'cooling-down', toReplicas: 4 });
      await controller.tick(t0 + 21_000);
      expect(decisions.at(-1)).toMatchObject({ kind: 'keda-poll', action: 'scale-to-zero', fromReplicas: 4, toReplicas: 0 });
      await until(() => controller.idle, 'all pods gone after scale-to-zero');
      expect(supervisor.counts('worker').unfinished).toBe(0);
    } finally {
      await supervisor.shutdown();
    }
  });
});

describe('ScaledJobController', () => {
  const sj = parseScaledJob({
    apiVersion: 'keda.sh/v1alpha1',
    kind: 'ScaledJob',
    metadata: { name: 'jobs' },
    spec: {
      jobTargetRef: {},
      pollingInterval: 1,
      maxReplicaCount: 3,
      triggers: [{ ...trigger, metadata: { ...trigger.metadata, targetValue: '1' } }],
    },
  }).spec;

  it('creates Jobs per KEDA (QL 10, max 3 → 3, then max − running), never deletes running ones', async () => {
    const supervisor = new Supervisor();
    const decisions: Decision[] = [];
    let value = 10;
    const controller = new ScaledJobController({
      workload: 'jobs',
      spec: sj,
      backoffLimit: 1,
      supervisor,
      podSpec: () => spec(longRunning),
      readTriggers: async () => [{ value }],
      log: (d) => decisions.push(d),
    });
    try {
      await controller.tick(0);
      expect(decisions.at(-1)).toMatchObject({ kind: 'scaledjob-poll', maxScale: 3, runningJobs: 0, jobsToCreate: 3 });
      await controller.tick(1000);
      expect(decisions.at(-1)).toMatchObject({ runningJobs: 3, jobsToCreate: 0 });
      value = 0;
      await controller.tick(2000);
      expect(decisions.at(-1)).toMatchObject({ active: false, jobsToCreate: 0 });
      expect(controller.status()).toMatchObject({ desired: 3, running: 3 });
    } finally {
      await supervisor.shutdown();
    }
  });

  it('a failed pod is retried up to backoffLimit; exit 2 fails the Job at once', async () => {
    const supervisor = new Supervisor();
    let code = 3;
    const controller = new ScaledJobController({
      workload: 'jobs',
      spec: sj,
      backoffLimit: 1,
      supervisor,
      podSpec: () => spec(`process.exit(${code})`),
      readTriggers: async () => [{ value: 1 }],
      log: () => {},
    });
    try {
      await controller.tick(0);
      expect(controller.jobCounts()).toMatchObject({ created: 1, unfinished: 1 });
      // first failure → one retry pod; second failure → over backoffLimit 1 → the Job fails
      await until(() => controller.jobCounts().failed === 1, 'job failed after its retry');
      expect(controller.status().started).toBe(2);
      code = 2;
      await controller.tick(1000);
      await until(() => controller.jobCounts().failed === 2, 'exit 2 fails at once');
      expect(controller.status().started).toBe(3);
      expect(controller.idle).toBe(true);
    } finally {
      await supervisor.shutdown();
    }
  });

  it("failJobExitCodes (the overlay's FailJob rules) replace the default: 6 fails at once, 2 is retried", async () => {
    const supervisor = new Supervisor();
    let code = 6;
    const controller = new ScaledJobController({
      workload: 'jobs',
      spec: sj,
      backoffLimit: 1,
      failJobExitCodes: [6],
      supervisor,
      podSpec: () => spec(`process.exit(${code})`),
      readTriggers: async () => [{ value: 1 }],
      log: () => {},
    });
    try {
      await controller.tick(0);
      await until(() => controller.jobCounts().failed === 1, 'exit 6 fails at once');
      expect(controller.status().started).toBe(1);
      code = 2;
      await controller.tick(1000);
      await until(() => controller.jobCounts().failed === 2, 'exit 2 fails after its retry');
      expect(controller.status().started).toBe(3);
    } finally {
      await supervisor.shutdown();
    }
  });
});
