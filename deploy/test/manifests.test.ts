/* eslint-disable @typescript-eslint/no-explicit-any -- rendered manifests are untyped YAML; the tests index into them directly */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  KUSTOMIZE_ROOT,
  SCALERS,
  SENTINEL_PREFIX,
  checkManifests,
  checkNoPlaintextSecrets,
  checkSourceImagesBare,
  dummyValue,
  formatIssues,
  kustomizationsUnder,
  loadSentinels,
  parseManifests,
  renderKustomizationText,
  replaceSentinels,
  type K8sObject,
  type Sentinel,
} from '../src/index.ts';

const overlays = await kustomizationsUnder(path.join(KUSTOMIZE_ROOT, 'overlays'));
const scenarios = await kustomizationsUnder(path.join(KUSTOMIZE_ROOT, 'tests'));
const components = (await readdir(path.join(KUSTOMIZE_ROOT, 'components'))).sort();
const targets = [path.join(KUSTOMIZE_ROOT, 'base'), ...overlays, ...scenarios];
const rel = (dir: string) => path.relative(KUSTOMIZE_ROOT, dir);
// read before rendering so a malformed file fails the run with its own message
const sentinels = new Map<string, Sentinel[] | undefined>(
  await Promise.all(targets.map(async (dir) => [dir, await loadSentinels(dir)] as const)),
);
const withSentinels = targets.filter((dir) => sentinels.get(dir) !== undefined);

const texts = new Map<string, string>();
const rendered = new Map<string, K8sObject[]>();

beforeAll(async () => {
  // rendered once, in parallel: kubectl kustomize is the slow part
  await Promise.all(
    targets.map(async (dir) => {
      const text = await renderKustomizationText(dir);
      texts.set(dir, text);
      rendered.set(dir, parseManifests(text, dir));
    }),
  );
});

describe('layout', () => {
  it('has the four issue overlays, a local overlay and test scenarios', () => {
    expect(overlays.map(rel)).toEqual(
      expect.arrayContaining([
        'overlays/aks-spot',
        'overlays/aks-keda-addon',
        'overlays/eks',
        'overlays/aks-virtual-node',
        'overlays/local',
      ]),
    );
    expect(scenarios.length).toBeGreaterThanOrEqual(8);
  });

  it.each(components)('component %s has a README and is used by a test scenario', async (name) => {
    await expect(readFile(path.join(KUSTOMIZE_ROOT, 'components', name, 'README.md'), 'utf8')).resolves.toMatch(/\S/);
    const used = await Promise.all(scenarios.map((dir) => readFile(path.join(dir, 'kustomization.yaml'), 'utf8')));
    expect(used.some((text) => text.includes(`components/${name}\n`))).toBe(true);
  });
});

describe.each(targets.map((dir) => [rel(dir), dir] as const))('%s', (_name, dir) => {
  it('renders and passes every manifest check (schemas, KEDA CRDs, scaler parameters, ports, declared sentinels, invariants)', async () => {
    const objects = rendered.get(dir) ?? [];
    expect(objects.length).toBeGreaterThan(0);
    const declared = sentinels.get(dir)?.map((s) => s.token) ?? [];
    expect(formatIssues(await checkManifests(objects, { sentinels: declared, sentinelsFile: `${rel(dir)}/sentinels.env` }))).toBe('');
  });

  it('uses only scaler types whose metadata and parameters are checked', () => {
    const types = (rendered.get(dir) ?? []).flatMap((o) =>
      ((o.spec as { triggers?: { type: string }[] } | undefined)?.triggers ?? []).map((t) => t.type),
    );
    expect(types.filter((t) => SCALERS[t] === undefined)).toEqual([]);
  });
});

// what a runbook does: render, replace every declared token by its variable's value, check, apply
describe.each(withSentinels.map((dir) => [rel(dir), dir] as const))('%s with its sentinels replaced', (_name, dir) => {
  it('leaves no sentinel and passes every check with no allow-list', async () => {
    const values = new Map((sentinels.get(dir) ?? []).map((s, i) => [s.token, dummyValue(s.variable, i)]));
    const text = replaceSentinels(texts.get(dir) ?? '', values);
    expect(text).not.toContain(SENTINEL_PREFIX);
    const objects = parseManifests(text, `${rel(dir)} (replaced)`);
    expect(formatIssues(await checkManifests(objects))).toBe('');
  });
});

it('every render that carries a sentinel token has a sentinels.env', () => {
  const usesTokens = targets.filter((dir) => (texts.get(dir) ?? '').includes(SENTINEL_PREFIX));
  expect(usesTokens.filter((dir) => !withSentinels.includes(dir)).map(rel)).toEqual([]);
});

describe('overlay specifics', () => {
  const of = (name: string) => rendered.get(path.join(KUSTOMIZE_ROOT, 'overlays', name)) ?? [];
  const pick = (objects: K8sObject[], kind: string, name: string) =>
    objects.find((o) => o.kind === kind && o.metadata.name === name) as Record<string, any> | undefined;

  it('aks-spot: ScaledJob only on the Spot pool, Blob results, small history', () => {
    const objects = of('aks-spot');
    expect(pick(objects, 'Deployment', 'worker-deployment')).toBeUndefined();
    const sj = pick(objects, 'ScaledJob', 'worker-job');
    // the count follows the Spot pool's density arithmetic (overlay README), not a fixed number
    expect(sj?.spec.maxReplicaCount).toBeGreaterThan(0);
    expect(sj?.spec.triggers[0].type).toBe('azure-servicebus');
    const pod = sj?.spec.jobTargetRef.template.spec;
    expect(pod.tolerations).toContainEqual({
      key: 'kubernetes.azure.com/scalesetpriority',
      operator: 'Equal',
      value: 'spot',
      effect: 'NoSchedule',
    });
    expect(JSON.stringify(pod.affinity)).toContain('kubernetes.azure.com/scalesetpriority');
    expect(pod.containers[0].imagePullPolicy).toBe('IfNotPresent');
    expect(sj?.spec.jobTargetRef.ttlSecondsAfterFinished).toBeLessThanOrEqual(300);
    const config = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('surge-config-')) as Record<string, any>;
    expect(config.data).toMatchObject({ QUEUE_KIND: 'servicebus', RESULTS_KIND: 'blob' });
  });

  it('aks-keda-addon: azure-workload TriggerAuthentication with identityId, bare namespace, SA annotation and pod label', () => {
    const objects = of('aks-keda-addon');
    const auth = pick(objects, 'TriggerAuthentication', 'servicebus-auth');
    expect(auth?.spec.podIdentity.provider).toBe('azure-workload');
    expect(auth?.spec.podIdentity.identityId).toMatch(/\S/);
    const so = pick(objects, 'ScaledObject', 'worker-deployment');
    expect(so?.spec.triggers[0].metadata.namespace).toMatch(/^[a-z0-9-]+$/);
    expect(pick(objects, 'ServiceAccount', 'worker-deployment')?.metadata.annotations['azure.workload.identity/client-id']).toMatch(/\S/);
    expect(pick(objects, 'Deployment', 'worker-deployment')?.spec.template.metadata.labels['azure.workload.identity/use']).toBe('true');
    expect(JSON.stringify(objects)).not.toContain('SERVICEBUS_CONNECTION_STRING');
  });

  it('eks: in-cluster RabbitMQ, rabbitmq trigger over http, prometheus trigger on the nginx sidecar', () => {
    const objects = of('eks');
    expect(pick(objects, 'StatefulSet', 'rabbitmq')).toBeDefined();
    expect(pick(objects, 'ScaledObject', 'worker-deployment')?.spec.triggers[0]).toMatchObject({
      type: 'rabbitmq',
      metadata: { protocol: 'http', mode: 'QueueLength' },
    });
    const web = pick(objects, 'ScaledObject', 'web');
    expect(web?.spec.triggers[0]).toMatchObject({ type: 'prometheus', metadata: { ignoreNullValues: 'false' } });
    expect(pick(objects, 'Deployment', 'web')?.spec.template.spec.containers.map((c: { name: string }) => c.name)).toEqual([
      'nginx',
      'exporter',
    ]);
  });

  it('aks-virtual-node: worker pods select and tolerate the virtual kubelet, the broker does not', () => {
    const objects = of('aks-virtual-node');
    const pod = pick(objects, 'Deployment', 'worker-deployment')?.spec.template.spec;
    expect(pod.nodeSelector.type).toBe('virtual-kubelet');
    expect(pod.tolerations).toContainEqual({ key: 'virtual-kubelet.io/provider', operator: 'Exists' });
    expect(pick(objects, 'StatefulSet', 'rabbitmq')?.spec.template.spec.nodeSelector).toBeUndefined();
  });

  it('local: the two files keda-local reads are complete scaling specs with short timings', async () => {
    const dir = path.join(KUSTOMIZE_ROOT, 'overlays', 'local');
    const [sj] = parseManifests(await readFile(path.join(dir, 'scaledjob-worker-job.yaml'), 'utf8')) as Record<string, any>[];
    const [so] = parseManifests(await readFile(path.join(dir, 'scaledobject-worker-deployment.yaml'), 'utf8')) as Record<string, any>[];
    expect(sj?.spec.pollingInterval).toBeLessThanOrEqual(5);
    expect(so?.spec.cooldownPeriod).toBeLessThanOrEqual(30);
    for (const spec of [sj?.spec, so?.spec])
      expect(spec.triggers[0]).toMatchObject({ type: 'metrics-api', metadata: { valueLocation: 'total' } });
    // and the rendered overlay carries exactly those triggers
    expect(pick(of('local'), 'ScaledJob', 'worker-job')?.spec.triggers).toEqual(sj?.spec.triggers);
  });
});

describe('base sources', () => {
  it('no workload file pins an image tag and no Secret or literal credential is in base', async () => {
    const base = path.join(KUSTOMIZE_ROOT, 'base');
    const files = (await readdir(base)).filter((f) => f.endsWith('.yaml') && !f.startsWith('kustomiz'));
    const violations = [];
    for (const file of files)
      violations.push(...checkSourceImagesBare(parseManifests(await readFile(path.join(base, file), 'utf8'), file), file));
    violations.push(...checkNoPlaintextSecrets(rendered.get(base) ?? []));
    expect(formatIssues(violations)).toBe('');
  });
});
