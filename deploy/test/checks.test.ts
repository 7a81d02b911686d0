/* eslint-disable @typescript-eslint/no-explicit-any -- rendered manifests are untyped YAML; the tests index into them directly */
// Every check must be able to fail: each case breaks one thing in a rendered overlay (sentinels
// replaced as a runbook would) and expects exactly the rules that mistake fires, at the right field.
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  KUSTOMIZE_ROOT,
  SentinelFileError,
  checkManifests,
  checkSentinels,
  dummyValue,
  loadCrdValidators,
  loadSentinels,
  parseManifests,
  parseSentinels,
  renderKustomizationText,
  replaceSentinels,
  strictStructuralSchema,
  validateSchemas,
  type K8sObject,
  type Problem,
} from '../src/index.ts';

/** An overlay rendered and its declared sentinels replaced by plausible values. */
async function renderReplaced(name: string): Promise<K8sObject[]> {
  const dir = path.join(KUSTOMIZE_ROOT, 'overlays', name);
  const values = new Map(((await loadSentinels(dir)) ?? []).map((s, i) => [s.token, dummyValue(s.variable, i)]));
  return parseManifests(replaceSentinels(await renderKustomizationText(dir), values), name);
}

let eks: K8sObject[] = [];
let spot: K8sObject[] = [];
beforeAll(async () => {
  [eks, spot] = await Promise.all([renderReplaced('eks'), renderReplaced('aks-spot')]);
});

const clone = (objects: K8sObject[]) => structuredClone(objects) as Record<string, any>[];
const pick = (objects: Record<string, any>[], kind: string, name: string) =>
  objects.find((o) => o.kind === kind && o.metadata.name === name)!;
const check = (objects: Record<string, any>[]) => checkManifests(objects as K8sObject[]);
const rules = async (objects: Record<string, any>[]) => [...new Set((await check(objects)).map((p) => p.rule))].sort();
const at = (problems: Problem[], rule: string) => problems.filter((p) => p.rule === rule).map((p) => `${p.object} ${p.field ?? ''}`);
const rename = (o: Record<string, any>, from: string, to: string) => {
  o[to] = o[from];
  delete o[from];
};

describe('the unmodified overlays pass every check', () => {
  it('eks and aks-spot', async () => {
    expect(await rules(clone(eks))).toEqual([]);
    expect(await rules(clone(spot))).toEqual([]);
  });
});

describe('Kubernetes 1.36 schemas, strict', () => {
  it('an unknown field in a container securityContext (readOnlyRootFileSystem)', async () => {
    const objects = clone(eks);
    const sc = pick(objects, 'Deployment', 'producer').spec.template.spec.containers[0].securityContext;
    rename(sc, 'readOnlyRootFilesystem', 'readOnlyRootFileSystem');
    const problems = await check(objects);
    expect(at(problems, 'k8s-unknown-field')).toEqual([
      'Deployment/surge/producer spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem',
    ]);
    expect(problems.find((p) => p.rule === 'k8s-unknown-field')?.message).toContain('did you mean "readOnlyRootFilesystem"');
    // and the hardening invariant notices the real field is gone
    expect([...new Set(problems.map((p) => p.rule))].sort()).toEqual(['k8s-unknown-field', 'read-only-root']);
  });

  it('unknown fields at every depth: top level, spec, embedded ObjectMeta, a volume, a Service port', async () => {
    const objects = clone(eks);
    const deployment = pick(objects, 'Deployment', 'producer');
    deployment.replica = 1;
    deployment.spec.template.metadata.label = { a: 'b' };
    deployment.spec.template.spec.volumes[0].emptyDir.size = '1Gi';
    pick(objects, 'Service', 'producer').spec.ports[0].target = 8080;
    const config = objects.find((o) => o.kind === 'ConfigMap')!;
    config.metadata.label = {};
    expect(at(await check(objects), 'k8s-unknown-field').sort()).toEqual(
      [
        'Deployment/surge/producer replica',
        'Deployment/surge/producer spec.template.metadata.label',
        'Deployment/surge/producer spec.template.spec.volumes[0].emptyDir.size',
        'Service/surge/producer spec.ports[0].target',
        `ConfigMap/surge/${config.metadata.name} metadata.label`,
      ].sort(),
    );
  });

  it('wrong types, bad enums and missing required fields; an unknown kind or apiVersion', async () => {
    const objects = clone(eks);
    const container = pick(objects, 'Deployment', 'producer').spec.template.spec.containers[0];
    container.ports[0].containerPort = 'eighty';
    container.imagePullPolicy = 'Sometimes';
    delete pick(objects, 'Deployment', 'worker-deployment').spec.selector;
    objects.push({ apiVersion: 'apps/v2', kind: 'Deployment', metadata: { name: 'x', namespace: 'surge' } });
    const problems = await check(objects);
    expect(at(problems, 'k8s-schema').sort()).toEqual(
      [
        'Deployment/surge/producer spec.template.spec.containers[0].ports[0].containerPort',
        'Deployment/surge/producer spec.template.spec.containers[0].imagePullPolicy',
        'Deployment/surge/worker-deployment spec.selector',
        'Deployment/surge/x kind',
      ].sort(),
    );
  });

  it('kinds beyond the overlays resolve to their own 1.36 definition (core Event vs events.k8s.io Event, policy, autoscaling, networking)', async () => {
    const meta = { name: 'x', namespace: 'surge' };
    const valid = [
      {
        apiVersion: 'events.k8s.io/v1',
        kind: 'Event',
        metadata: meta,
        eventTime: '2026-01-01T00:00:00.000000Z',
        note: 'n',
        reportingController: 'c',
        reportingInstance: 'i',
        action: 'a',
        reason: 'r',
        type: 'Normal',
      },
      { apiVersion: 'v1', kind: 'Event', metadata: meta, involvedObject: { kind: 'Pod', name: 'p' }, message: 'm' },
      {
        apiVersion: 'policy/v1',
        kind: 'PodDisruptionBudget',
        metadata: meta,
        spec: { maxUnavailable: 1, selector: { matchLabels: { a: 'b' } } },
      },
      {
        apiVersion: 'autoscaling/v2',
        kind: 'HorizontalPodAutoscaler',
        metadata: meta,
        spec: { maxReplicas: 2, scaleTargetRef: { kind: 'Deployment', name: 'd' } },
      },
      { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: meta, spec: { podSelector: {}, policyTypes: ['Ingress'] } },
    ] as unknown as K8sObject[];
    const crds = await loadCrdValidators();
    for (const obj of valid) expect(await validateSchemas(obj, crds), `${obj.apiVersion} ${obj.kind}`).toEqual([]);
    // `note` is a field of events.k8s.io/v1 Event only; `minAvailable` is misspelt
    const wrong = [
      { apiVersion: 'v1', kind: 'Event', metadata: meta, involvedObject: {}, note: 'n' },
      { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: meta, spec: { minAvailble: 1 } },
    ] as unknown as K8sObject[];
    const problems = (await Promise.all(wrong.map((o) => validateSchemas(o, crds)))).flat();
    expect(problems.map((p) => `${p.rule} ${p.object} ${p.field}`)).toEqual([
      'k8s-unknown-field Event/surge/x note',
      'k8s-unknown-field PodDisruptionBudget/surge/x spec.minAvailble',
    ]);
  });

  it('accepts int-or-string, numeric quantities and a quoted number where the API does', async () => {
    const objects = clone(eks);
    const deployment = pick(objects, 'Deployment', 'producer');
    const container = deployment.spec.template.spec.containers[0];
    container.readinessProbe.httpGet.port = 8080; // IntOrString as a number
    container.resources.requests.cpu = 1; // Quantity as a number
    container.resources.limits.memory = '512Mi';
    pick(objects, 'Service', 'producer').spec.ports[0].targetPort = 8080;
    deployment.spec.strategy = { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: 0 } };
    expect(await rules(objects)).toEqual([]);
  });
});

describe('KEDA v2.20 CRDs, strict', () => {
  it('unknown fields in a ScaledJob: spec, trigger, Job template securityContext, Job template metadata, metadata', async () => {
    const objects = clone(spot);
    const sj = pick(objects, 'ScaledJob', 'worker-job');
    sj.spec.pollingIntervall = 5;
    sj.spec.triggers[0].metadat = {};
    sj.spec.jobTargetRef.template.spec.containers[0].securityContext.readOnlyRootFileSystem = true;
    sj.spec.jobTargetRef.template.metadata.annotation = {};
    sj.metadata.label = {};
    const problems = await check(objects);
    expect(at(problems, 'keda-crd-unknown-field').sort()).toEqual(
      [
        'ScaledJob/surge/worker-job spec.pollingIntervall',
        'ScaledJob/surge/worker-job spec.triggers[0].metadat',
        'ScaledJob/surge/worker-job spec.jobTargetRef.template.spec.containers[0].securityContext.readOnlyRootFileSystem',
        'ScaledJob/surge/worker-job spec.jobTargetRef.template.metadata.annotation',
      ].sort(),
    );
    // the CRD leaves the object's own metadata untyped: ObjectMeta catches it, once
    expect(at(problems, 'k8s-unknown-field')).toEqual(['ScaledJob/surge/worker-job metadata.label']);
  });

  it('type and enum errors in a ScaledObject and a TriggerAuthentication', async () => {
    const objects = clone(eks);
    pick(objects, 'ScaledObject', 'worker-deployment').spec.maxReplicaCount = 'many';
    const auth = objects.find((o) => o.kind === 'TriggerAuthentication')!;
    auth.spec.secretTargetRef[0].key = 5;
    const problems = await check(objects);
    expect(at(problems, 'keda-crd-schema').sort()).toEqual(
      [
        `ScaledObject/surge/worker-deployment spec.maxReplicaCount`,
        `TriggerAuthentication/surge/${auth.metadata.name} spec.secretTargetRef[0].key`,
      ].sort(),
    );
  });

  it('strictStructuralSchema keeps x-kubernetes-preserve-unknown-fields open and int-or-string as either', () => {
    const schema = strictStructuralSchema({
      type: 'object',
      properties: {
        open: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true, properties: { a: { type: 'string' } } },
        port: { 'x-kubernetes-int-or-string': true },
      },
    }) as Record<string, any>;
    expect(schema.additionalProperties).toBe(false);
    expect(schema.properties.open.additionalProperties).toBeUndefined();
    expect(schema.properties.port.anyOf).toEqual([{ type: 'integer' }, { type: 'string' }]);
  });
});

describe('trigger metadata and TriggerAuthentication parameters per scaler', () => {
  it('azure-servicebus: queueNme is unknown, and then no queue is named', async () => {
    const objects = clone(spot);
    rename(pick(objects, 'ScaledJob', 'worker-job').spec.triggers[0].metadata, 'queueName', 'queueNme');
    const problems = await check(objects);
    expect(at(problems, 'trigger-metadata-known')).toEqual(['ScaledJob/surge/worker-job spec.triggers[0].metadata.queueNme']);
    expect(problems.find((p) => p.rule === 'trigger-metadata-known')?.message).toContain('did you mean "queueName"');
    expect(at(problems, 'trigger-metadata-required')).toEqual(['ScaledJob/surge/worker-job spec.triggers[0].metadata']);
    expect([...new Set(problems.map((p) => p.rule))].sort()).toEqual(['trigger-metadata-known', 'trigger-metadata-required']);
  });

  it('azure-servicebus: mesageCount is unknown (KEDA would silently use 5)', async () => {
    const objects = clone(spot);
    rename(pick(objects, 'ScaledJob', 'worker-job').spec.triggers[0].metadata, 'messageCount', 'mesageCount');
    const problems = await check(objects);
    expect(problems.map((p) => `${p.rule} ${p.field}`)).toEqual(['trigger-metadata-known spec.triggers[0].metadata.mesageCount']);
  });

  it('azure-servicebus: topicName without subscriptionName; connection in plain metadata', async () => {
    const objects = clone(spot);
    const meta = pick(objects, 'ScaledJob', 'worker-job').spec.triggers[0].metadata;
    delete meta.queueName;
    meta.topicName = 't';
    meta.connection = 'x';
    const problems = await check(objects);
    expect(problems.filter((p) => p.rule.startsWith('trigger-')).map((p) => p.message.split(' (')[0])).toEqual([
      'azure-servicebus does not read "connection"',
      'azure-servicebus: "topicName" needs "subscriptionName"',
    ]);
  });

  it('a TriggerAuthentication parameter typo, and the connection the trigger then lacks', async () => {
    const objects = clone(spot);
    const auth = objects.find((o) => o.kind === 'TriggerAuthentication')!;
    const ref = auth.spec.secretTargetRef[0];
    expect(ref.parameter).toBe('connection');
    ref.parameter = 'conection';
    const problems = await check(objects);
    expect(at(problems, 'trigger-auth-parameter')).toEqual([
      `TriggerAuthentication/surge/${auth.metadata.name} spec.secretTargetRef[0].parameter`,
    ]);
    expect(problems.find((p) => p.rule === 'trigger-auth-parameter')?.message).toContain('did you mean "connection"');
    expect(problems.find((p) => p.rule === 'trigger-metadata-required')?.message).toContain('"connection"');
  });

  it('rabbitmq: an env parameter typo in the TriggerAuthentication; value without mode', async () => {
    const objects = clone(eks);
    const auth = objects.find((o) => o.kind === 'TriggerAuthentication')!;
    const refs = auth.spec.secretTargetRef as { parameter: string }[];
    refs.find((r) => r.parameter === 'password')!.parameter = 'pasword';
    const meta = pick(objects, 'ScaledObject', 'worker-deployment').spec.triggers[0].metadata;
    delete meta.mode;
    expect(await rules(objects)).toEqual(['trigger-auth-parameter', 'trigger-metadata-required']);
  });

  it('prometheus: threshold missing, a misspelt key; an unknown scaler type', async () => {
    const objects = clone(eks);
    const trigger = pick(objects, 'ScaledObject', 'web').spec.triggers[0];
    rename(trigger.metadata, 'threshold', 'treshold');
    const problems = await check(objects);
    expect(problems.map((p) => `${p.rule} ${p.field}`).sort()).toEqual([
      'trigger-metadata-known spec.triggers[0].metadata.treshold',
      'trigger-metadata-required spec.triggers[0].metadata',
    ]);
    trigger.type = 'prometeus';
    expect((await check(objects)).map((p) => `${p.rule} ${p.message}`)).toEqual([
      expect.stringContaining('trigger-type "prometeus" is not a KEDA v2.20 scaler type (did you mean "prometheus"?)'),
    ]);
  });

  it('an authenticationRef that resolves to nothing, and a TriggerAuthentication nothing refers to', async () => {
    const objects = clone(eks);
    const so = pick(objects, 'ScaledObject', 'worker-deployment');
    so.spec.triggers[0].authenticationRef.name = 'missing-auth';
    const problems = await check(objects);
    expect(at(problems, 'auth-exists')).toEqual(['ScaledObject/surge/worker-deployment spec.triggers[0].authenticationRef.name']);
    expect(problems.filter((p) => p.rule === 'trigger-auth-used')).toHaveLength(1);
  });

  it('metrics-api: targetValue is required unless the trigger feeds scalingModifiers', async () => {
    const objects = parseManifests(await renderKustomizationText(path.join(KUSTOMIZE_ROOT, 'overlays', 'local'))) as Record<string, any>[];
    expect(await rules(objects)).toEqual([]);
    const so = pick(objects, 'ScaledObject', 'worker-deployment');
    delete so.spec.triggers[0].metadata.targetValue;
    expect(await rules(objects)).toEqual(['trigger-metadata-required']);
    so.spec.advanced.scalingModifiers = { formula: 'x', target: '1' };
    expect((await check(objects)).filter((p) => p.rule.startsWith('trigger-'))).toEqual([]);
  });
});

describe('probe and Service ports', () => {
  it('a probe on an undeclared named port, and on an undeclared number', async () => {
    const objects = clone(eks);
    const container = pick(objects, 'Deployment', 'producer').spec.template.spec.containers[0];
    container.readinessProbe.httpGet.port = 'htttp';
    container.livenessProbe = { tcpSocket: { port: 9999 } };
    const problems = await check(objects);
    expect(at(problems, 'probe-port-declared').sort()).toEqual([
      'Deployment/surge/producer spec.template.spec.containers[0].livenessProbe.tcpSocket.port',
      'Deployment/surge/producer spec.template.spec.containers[0].readinessProbe.httpGet.port',
    ]);
    expect(problems.find((p) => p.field?.includes('readinessProbe'))?.message).toContain('named port "htttp"');
  });

  it('a Service targetPort no selected container declares, and a Service that selects nothing', async () => {
    const objects = clone(eks);
    pick(objects, 'Service', 'producer').spec.ports[0].targetPort = 'metrics';
    pick(objects, 'Service', 'exporter').spec.selector = { 'app.kubernetes.io/name': 'exporterr' };
    const problems = await check(objects);
    expect(at(problems, 'service-target-port-declared')).toEqual(['Service/surge/producer spec.ports[0].targetPort']);
    expect(at(problems, 'service-selects-pods')).toEqual(['Service/surge/exporter spec.selector']);
  });

  it('a numeric targetPort that matches a declared containerPort passes; a renamed container port breaks both probe and Service', async () => {
    const objects = clone(eks);
    pick(objects, 'Service', 'producer').spec.ports[0].targetPort = 8080;
    expect(await rules(objects)).toEqual([]);
    pick(objects, 'Deployment', 'exporter').spec.template.spec.containers[0].ports[0].name = 'prom';
    expect(await rules(objects)).toEqual(['probe-port-declared', 'service-target-port-declared']);
  });
});

describe('sentinels', () => {
  const objects = (image: string) =>
    [{ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image }] } }] as unknown as K8sObject[];

  it('a sentinel left in place is a problem without an allow-list; declared tokens are allowed and must occur', () => {
    expect(
      checkSentinels(objects('surge-sentinel-registry/surge/x:surge-sentinel-tag')).map(
        (p) => `${p.rule} ${p.field} ${p.message.split(' ')[0]}`,
      ),
    ).toEqual([
      'sentinel-replaced spec.containers[0].image "surge-sentinel-registry"',
      'sentinel-replaced spec.containers[0].image "surge-sentinel-tag"',
    ]);
    expect(
      checkSentinels(objects('surge-sentinel-registry/surge/x:surge-sentinel-tag'), ['surge-sentinel-registry', 'surge-sentinel-tag']),
    ).toEqual([]);
    expect(
      checkSentinels(objects('surge-sentinel-registry/surge/x:surge-sentinel-tag'), ['surge-sentinel-registry']).map((p) => p.message),
    ).toEqual(['"surge-sentinel-tag" is not declared in sentinels.env']);
    expect(checkSentinels(objects('r/x:1'), ['surge-sentinel-registry']).map((p) => `${p.rule} ${p.field}`)).toEqual([
      'sentinel-used surge-sentinel-registry',
    ]);
  });

  it('a declared token followed by more characters is replaced as a runbook would, leaving nothing', () => {
    expect(checkSentinels(objects('surge-sentinel-prefix-sb.servicebus.windows.net'), ['surge-sentinel-prefix'])).toEqual([]);
    expect(replaceSentinels('a surge-sentinel-prefix-sb', new Map([['surge-sentinel-prefix', 'p1']]))).toBe('a p1-sb');
  });

  it('sentinels.env: comments and blank lines; a malformed, duplicate or ambiguous line is one clear error', () => {
    expect(parseSentinels('# c\n\nsurge-sentinel-registry=REGISTRY\n surge-sentinel-tag = TAG \n')).toEqual([
      { token: 'surge-sentinel-registry', variable: 'REGISTRY' },
      { token: 'surge-sentinel-tag', variable: 'TAG' },
    ]);
    expect(() => parseSentinels('surge-sentinel-Registry=REGISTRY', 'x/sentinels.env')).toThrow(
      /x\/sentinels.env:1: expected <token>=<VARIABLE>/,
    );
    expect(() => parseSentinels('surge-sentinel-a=registry')).toThrow(/variable must be an upper-case shell name/);
    expect(() => parseSentinels('surge-sentinel-a=A\nsurge-sentinel-a=B')).toThrow(/declared twice/);
    expect(() => parseSentinels('surge-sentinel-a=A\nsurge-sentinel-a-b=B')).toThrow(SentinelFileError);
  });

  it('dummy values are picked by variable name and are valid where the token was', () => {
    expect(dummyValue('REGISTRY')).toBe('example.azurecr.io');
    expect(dummyValue('TAG')).toBe('0.1.0');
    expect(dummyValue('WORKER_CLIENT_ID', 2)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-8[0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(dummyValue('SB')).toMatch(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/);
  });
});
