/* eslint-disable @typescript-eslint/no-explicit-any -- rendered manifests are untyped YAML; the tests index into them directly */
// The checks must be able to fail: each case breaks one thing in a rendered overlay and expects
// exactly that rule to fire.
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  KUSTOMIZE_ROOT,
  checkAll,
  checkSourceImagesBare,
  parseManifests,
  renderKustomization,
  triggerQueue,
  type K8sObject,
} from '../src/index.ts';

let eks: K8sObject[] = [];
let spot: K8sObject[] = [];
beforeAll(async () => {
  eks = await renderKustomization(path.join(KUSTOMIZE_ROOT, 'overlays', 'eks'));
  spot = await renderKustomization(path.join(KUSTOMIZE_ROOT, 'overlays', 'aks-spot'));
});

const clone = (objects: K8sObject[]) => structuredClone(objects) as Record<string, any>[];
const pick = (objects: Record<string, any>[], kind: string, name: string) =>
  objects.find((o) => o.kind === kind && o.metadata.name === name)!;
const rules = (objects: Record<string, any>[]) => [...new Set(checkAll(objects as K8sObject[]).map((v) => v.rule))].sort();

describe('invariant checks fail on broken manifests', () => {
  it('the unmodified overlays pass', () => {
    expect(rules(clone(eks))).toEqual([]);
    expect(rules(clone(spot))).toEqual([]);
  });

  it('a trigger on another queue than the target QUEUE_NAME', () => {
    const objects = clone(eks);
    pick(objects, 'ScaledObject', 'worker-deployment').spec.triggers[0].metadata.queueName = 'other';
    expect(rules(objects)).toEqual(['trigger-queue']);
  });

  it('QUEUE_NAME changed in the ConfigMap only', () => {
    const objects = clone(spot);
    objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('surge-config-'))!.data.QUEUE_NAME = 'renamed';
    expect(rules(objects)).toEqual(['trigger-queue']);
  });

  it('a scaleTargetRef that does not exist, and replicas on a scaled Deployment', () => {
    const missing = clone(eks);
    pick(missing, 'ScaledObject', 'worker-deployment').spec.scaleTargetRef.name = 'nope';
    expect(rules(missing)).toEqual(['target-exists']);
    const replicas = clone(eks);
    pick(replicas, 'Deployment', 'worker-deployment').spec.replicas = 3;
    expect(rules(replicas)).toEqual(['no-replicas-on-scaled-target']);
  });

  it('weakened pod hardening and missing resources', () => {
    const objects = clone(spot);
    const container = pick(objects, 'ScaledJob', 'worker-job').spec.jobTargetRef.template.spec.containers[0];
    container.securityContext.readOnlyRootFilesystem = false;
    container.securityContext.capabilities.drop = [];
    delete container.resources.limits;
    expect(rules(objects)).toEqual(['drop-all', 'read-only-root', 'resources']);
  });

  it('each violation names the field it is about', () => {
    const objects = clone(spot);
    const sj = pick(objects, 'ScaledJob', 'worker-job');
    sj.spec.jobTargetRef.template.spec.containers[0].securityContext.readOnlyRootFilesystem = false;
    sj.spec.successfulJobsHistoryLimit = 100;
    expect(checkAll(objects as K8sObject[]).map((v) => `${v.rule} ${v.field}`)).toEqual([
      'sj-history-limits spec.successfulJobsHistoryLimit',
      'read-only-root spec.jobTargetRef.template.spec.containers[0].securityContext.readOnlyRootFilesystem',
    ]);
  });

  it('a grace period not above DRAIN_TIMEOUT_MS', () => {
    const objects = clone(eks);
    pick(objects, 'Deployment', 'worker-deployment').spec.template.spec.terminationGracePeriodSeconds = 25;
    expect(rules(objects)).toEqual(['grace-above-drain']);
  });

  it('ScaledJob hygiene: default rollout, big history, no podFailurePolicy', () => {
    const objects = clone(spot);
    const sj = pick(objects, 'ScaledJob', 'worker-job');
    delete sj.spec.rollout;
    sj.spec.successfulJobsHistoryLimit = 100;
    delete sj.spec.jobTargetRef.podFailurePolicy;
    expect(rules(objects)).toEqual(['sj-history-limits', 'sj-pod-failure-policy', 'sj-rollout-gradual']);
  });

  it('ScaledObject without HPA behavior; rabbitmq over amqp with credentials in host', () => {
    const objects = clone(eks);
    const so = pick(objects, 'ScaledObject', 'worker-deployment');
    delete so.spec.advanced;
    so.spec.triggers[0].metadata.protocol = 'amqp';
    so.spec.triggers[0].metadata.host = 'http://u:p@rabbitmq.other.svc.cluster.local:15672/%2F';
    expect(rules(objects)).toEqual([
      'no-plaintext-secret',
      'rabbitmq-credentials',
      'rabbitmq-http',
      'service-namespace',
      'so-hpa-behavior',
    ]);
  });

  it('prometheus query with several series and null values ignored', () => {
    const objects = clone(eks);
    const meta = pick(objects, 'ScaledObject', 'web').spec.triggers[0].metadata;
    meta.query = 'nginx_connections_active';
    meta.ignoreNullValues = 'true';
    expect(rules(objects)).toEqual(['prometheus-ignore-null', 'prometheus-single-series']);
  });

  it('a literal secret, a rendered Secret and an untagged image', () => {
    const objects = clone(eks);
    const producer = pick(objects, 'Deployment', 'producer').spec.template.spec.containers[0];
    producer.env.push({ name: 'PRODUCER_TOKEN', value: 'hunter2' });
    producer.image = 'surge/producer';
    objects.push({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'surge' }, stringData: { a: 'b' } });
    expect(rules(objects)).toEqual(['image-pinned', 'no-plaintext-secret', 'no-secrets']);
  });

  it('a tag written into a workload file instead of kustomize images', () => {
    const [deployment] = parseManifests(
      'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {template: {spec: {containers: [{name: x, image: surge/x:1.0.0}]}}}\n',
    );
    expect(checkSourceImagesBare([deployment!], 'x.yaml').map((v) => v.rule)).toEqual(['images-via-kustomize']);
  });

  it('reads the queue of each trigger type', () => {
    expect(triggerQueue({ type: 'metrics-api', metadata: { url: 'http://e:9113/api/v1/queues/a%2Eb?x=1' } })).toBe('a.b');
    expect(triggerQueue({ type: 'prometheus', metadata: {} })).toBeUndefined();
  });
});
