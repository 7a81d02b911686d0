import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from './config.ts';
import { mergePatch, readOverlay } from './manifests.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'surge-overlay-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('readOverlay', () => {
  it('reads the local overlay: the ScaledJob patch is merged onto the base, defaults applied', () => {
    const overlay = readOverlay(path.join(REPO_ROOT, 'deploy/kustomize/overlays/local'));
    expect(overlay.scaledJob?.spec).toMatchObject({ name: 'worker-job', pollingIntervalSeconds: 2, maxReplicaCount: 20 });
    expect(overlay.scaledJob?.spec.triggers[0]).toMatchObject({
      type: 'metrics-api',
      target: 1,
      source: { getter: 'metrics-api.value', valueLocation: 'total' },
    });
    // from the base Job template, which the patch does not repeat
    expect(overlay.scaledJob?.backoffLimit).toBe(4);
    // the base's podFailurePolicy: configuration error and work deadline fail the Job at once
    expect(overlay.scaledJob?.failJobExitCodes).toEqual([2, 6]);
    expect(overlay.scaledJob?.pod.terminationGraceSeconds).toBe(30);
    expect(overlay.scaledObject?.spec).toMatchObject({
      name: 'worker-deployment',
      pollingIntervalSeconds: 2,
      cooldownPeriodSeconds: 10,
      maxReplicaCount: 8,
    });
    expect(overlay.scaledObject?.pod.terminationGraceSeconds).toBe(40);
  });

  it('follows resources and merges patches; lists replace', () => {
    mkdirSync(path.join(dir, 'base'));
    writeFileSync(path.join(dir, 'base', 'kustomization.yaml'), 'resources: [sj.yaml]\n');
    writeFileSync(
      path.join(dir, 'base', 'sj.yaml'),
      'apiVersion: keda.sh/v1alpha1\nkind: ScaledJob\nmetadata: { name: w }\nspec:\n  jobTargetRef: { template: { spec: { terminationGracePeriodSeconds: 7 } } }\n  triggers: []\n',
    );
    writeFileSync(path.join(dir, 'kustomization.yaml'), 'resources: [base]\npatches:\n  - path: patch.yaml\n');
    writeFileSync(
      path.join(dir, 'patch.yaml'),
      'apiVersion: keda.sh/v1alpha1\nkind: ScaledJob\nmetadata: { name: w }\nspec:\n  maxReplicaCount: 3\n  triggers:\n    - type: rabbitmq\n      metadata: { queueName: q, host: "http://g:g@h:15672/", mode: QueueLength, value: "5" }\n',
    );
    const overlay = readOverlay(dir);
    expect(overlay.scaledObject).toBeUndefined();
    expect(overlay.scaledJob).toMatchObject({
      backoffLimit: 6,
      failJobExitCodes: [],
      pod: { terminationGraceSeconds: 7 },
      spec: { maxReplicaCount: 3 },
    });
    expect(overlay.scaledJob?.spec.triggers).toHaveLength(1);
  });

  it('a folder without KEDA objects or kustomization is a typed error', () => {
    expect(() => readOverlay(path.join(dir, 'nowhere'))).toThrow(expect.objectContaining({ code: 'OVERLAY_INVALID' }));
    expect(mergePatch({ a: { b: 1, c: [1] } }, { a: { c: [2], d: null } })).toEqual({ a: { b: 1, c: [2] } });
  });
});
