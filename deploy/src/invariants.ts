/**
 * Invariants every rendered Surge scenario must hold, beyond schema validity: the things that make
 * KEDA scale the right workload on the right queue, and the pod hardening of the base.
 * Each check returns violations (empty = pass), so a test can show all of them at once.
 */
import { describe, fieldPath, type PathSegment, type Problem } from './problems.ts';
import type { K8sObject } from './render.ts';

export type Violation = Problem;

type Json = Record<string, unknown>;

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: Json;
}
interface Container {
  name: string;
  image?: string;
  ports?: unknown[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Json & { capabilities?: { drop?: string[] } };
  readinessProbe?: unknown;
  livenessProbe?: unknown;
}
interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  securityContext?: Json & { seccompProfile?: { type?: string } };
  terminationGracePeriodSeconds?: number;
  restartPolicy?: string;
}
interface PodTemplate {
  metadata?: { labels?: Record<string, string> };
  spec: PodSpec;
}
interface Trigger {
  metricType?: string;
  type: string;
  name?: string;
  metadata?: Record<string, string>;
  authenticationRef?: { name: string; kind?: string };
}

export const DEFAULT_QUEUE_NAME = 'surge-work';
const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'ScaledJob']);

const get = (obj: unknown, ...keys: string[]): unknown =>
  keys.reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Json)[k] : undefined), obj);
const ns = (obj: K8sObject): string => obj.metadata.namespace ?? 'default';

/** The pod template of a workload (ScaledJob: its jobTargetRef's), or undefined for other kinds. */
export function podTemplateOf(obj: K8sObject): PodTemplate | undefined {
  if (!WORKLOAD_KINDS.has(obj.kind)) return undefined;
  const template = obj.kind === 'ScaledJob' ? get(obj, 'spec', 'jobTargetRef', 'template') : get(obj, 'spec', 'template');
  return template as PodTemplate | undefined;
}

/** Where podTemplateOf found the template, as a field path prefix. */
function templatePath(obj: K8sObject): PathSegment[] {
  return obj.kind === 'ScaledJob' ? ['spec', 'jobTargetRef', 'template'] : ['spec', 'template'];
}

/** Init containers then containers, each with its field path. */
function containersOf(obj: K8sObject, template: PodTemplate): { c: Container; at: PathSegment[] }[] {
  const at = templatePath(obj);
  return [
    ...(template.spec.initContainers ?? []).map((c, i) => ({ c, at: [...at, 'spec', 'initContainers', i] })),
    ...template.spec.containers.map((c, i) => ({ c, at: [...at, 'spec', 'containers', i] })),
  ];
}

function find(objects: K8sObject[], kind: string, name: string, namespace: string): K8sObject | undefined {
  return objects.find((o) => o.kind === kind && o.metadata.name === name && ns(o) === namespace);
}

/**
 * A container's environment as the kubelet builds it from literal values and envFrom ConfigMaps
 * (Secrets and fieldRefs stay unresolved: they are never needed for these checks).
 */
export function resolveEnv(container: Container, objects: K8sObject[], namespace: string): Map<string, string> {
  const env = new Map<string, string>();
  for (const source of container.envFrom ?? []) {
    const name = source.configMapRef?.name;
    if (!name) continue;
    const data = get(find(objects, 'ConfigMap', name, namespace), 'data') as Record<string, string> | undefined;
    for (const [k, v] of Object.entries(data ?? {})) env.set(k, v);
  }
  for (const e of container.env ?? []) if (e.value !== undefined) env.set(e.name, e.value);
  return env;
}

/** The queue a KEDA trigger watches, or undefined for triggers that watch no queue (prometheus, cpu…). */
export function triggerQueue(trigger: Trigger): string | undefined {
  const meta = trigger.metadata ?? {};
  switch (trigger.type) {
    case 'azure-servicebus':
    case 'rabbitmq':
      return meta.queueName;
    case 'metrics-api': {
      const match = /\/api\/v1\/queues\/([^/?#]+)/.exec(meta.url ?? '');
      return match?.[1] ? decodeURIComponent(match[1]) : undefined;
    }
    default:
      return undefined;
  }
}

/** The container KEDA reads env from and the workload it scales, for a ScaledObject or ScaledJob. */
function scaleTarget(scaler: K8sObject, objects: K8sObject[]): { target?: K8sObject; container?: Container; problem?: string } {
  if (scaler.kind === 'ScaledJob') {
    const containers = podTemplateOf(scaler)?.spec.containers ?? [];
    const wanted = get(scaler, 'spec', 'envSourceContainerName') as string | undefined;
    return { target: scaler, container: wanted ? containers.find((c) => c.name === wanted) : containers[0] };
  }
  const ref = get(scaler, 'spec', 'scaleTargetRef') as { name?: string; kind?: string; envSourceContainerName?: string } | undefined;
  const kind = ref?.kind ?? 'Deployment';
  const target = ref?.name ? find(objects, kind, ref.name, ns(scaler)) : undefined;
  if (!target) return { problem: `scaleTargetRef ${kind}/${ref?.name ?? '?'} does not exist in namespace ${ns(scaler)}` };
  const containers = podTemplateOf(target)?.spec.containers ?? [];
  const container = ref?.envSourceContainerName ? containers.find((c) => c.name === ref.envSourceContainerName) : containers[0];
  return { target, container };
}

export function checkScalers(objects: K8sObject[]): Violation[] {
  const out: Violation[] = [];
  const v = (obj: K8sObject, rule: string, message: string, field?: PathSegment[]) =>
    out.push({ object: describe(obj), rule, message, ...(field ? { field: fieldPath(field) } : {}) });
  for (const scaler of objects.filter(
    (o) => o.apiVersion.startsWith('keda.sh/') && (o.kind === 'ScaledObject' || o.kind === 'ScaledJob'),
  )) {
    const spec = (scaler as Json).spec as Json;
    const triggers = (spec.triggers ?? []) as Trigger[];
    if (triggers.length === 0) v(scaler, 'has-trigger', 'no trigger: it would never scale', ['spec', 'triggers']);
    const { target, container, problem } = scaleTarget(scaler, objects);
    if (problem) v(scaler, 'target-exists', problem, ['spec', 'scaleTargetRef']);
    if (scaler.kind === 'ScaledObject' && target && get(target, 'spec', 'replicas') !== undefined) {
      v(
        target,
        'no-replicas-on-scaled-target',
        `${describe(target)} sets replicas but is scaled by ${describe(scaler)} (the HPA owns it)`,
        ['spec', 'replicas'],
      );
    }
    const env = container ? resolveEnv(container, objects, ns(scaler)) : new Map<string, string>();
    const queueName = env.get('QUEUE_NAME') ?? DEFAULT_QUEUE_NAME;
    for (const [i, trigger] of triggers.entries()) {
      const label = `trigger ${i} (${trigger.type})`;
      const queue = triggerQueue(trigger);
      if (queue !== undefined && container && queue !== queueName)
        v(scaler, 'trigger-queue', `${label} watches "${queue}" but the target's QUEUE_NAME is "${queueName}"`, [
          'spec',
          'triggers',
          i,
          'metadata',
        ]);
      if (trigger.authenticationRef) {
        const kind = trigger.authenticationRef.kind ?? 'TriggerAuthentication';
        const auth =
          kind === 'TriggerAuthentication'
            ? find(objects, kind, trigger.authenticationRef.name, ns(scaler))
            : objects.find((o) => o.kind === kind && o.metadata.name === trigger.authenticationRef?.name);
        if (!auth)
          v(scaler, 'auth-exists', `${label} refers to ${kind}/${trigger.authenticationRef.name}, which is not rendered`, [
            'spec',
            'triggers',
            i,
            'authenticationRef',
            'name',
          ]);
        const provider = get(auth, 'spec', 'podIdentity', 'provider');
        if (trigger.type === 'azure-servicebus' && provider === 'azure-workload') {
          const namespace = trigger.metadata?.namespace;
          if (!namespace || namespace.includes('.'))
            v(
              scaler,
              'servicebus-namespace',
              `${label} uses azure-workload and needs metadata.namespace as the bare name (got ${JSON.stringify(namespace)})`,
              ['spec', 'triggers', i, 'metadata', 'namespace'],
            );
        }
      }
      out.push(...checkTrigger(scaler, trigger, label, i));
    }
    out.push(...(scaler.kind === 'ScaledJob' ? checkScaledJobHygiene(scaler) : checkScaledObjectHygiene(scaler)));
  }
  return out;
}

function checkTrigger(scaler: K8sObject, trigger: Trigger, label: string, index: number): Violation[] {
  const out: Violation[] = [];
  const v = (rule: string, message: string) =>
    out.push({ object: describe(scaler), field: fieldPath(['spec', 'triggers', index]), rule, message: `${label}: ${message}` });
  const meta = trigger.metadata ?? {};
  if (scaler.kind === 'ScaledJob' && trigger.metricType !== undefined)
    v('scaledjob-metrictype', 'metricType is forbidden on ScaledJob triggers');
  if (trigger.type === 'rabbitmq') {
    if (meta.protocol !== 'http') v('rabbitmq-http', 'protocol must be http: amqp counts ready messages only, not unacked ones');
    if (meta.excludeUnacknowledged === 'true') v('rabbitmq-http', 'excludeUnacknowledged drops in-flight messages from the count');
    const host = meta.host ?? '';
    if (host.includes('@')) v('rabbitmq-credentials', 'credentials belong in a TriggerAuthentication, not in host');
    let url: URL | undefined;
    try {
      url = new URL(host);
    } catch {
      v('rabbitmq-host', `host ${JSON.stringify(host)} is not a URL`);
    }
    if (url) {
      const lastSegment = url.pathname.split('/').pop() ?? '';
      if (!meta.vhostName && lastSegment === '') v('rabbitmq-vhost', 'host has no vhost path segment (use /%2F for the default vhost)');
      if (meta.vhostName?.includes('%')) v('rabbitmq-vhost', 'vhostName is escaped again by KEDA: give it unescaped, or put %2F in host');
      checkServiceNamespace(scaler, url, (m) => v('service-namespace', m));
    }
  }
  if (trigger.type === 'metrics-api') {
    try {
      checkServiceNamespace(scaler, new URL(meta.url ?? ''), (m) => v('service-namespace', m));
    } catch {
      v('metrics-api-url', `url ${JSON.stringify(meta.url)} is not a URL`);
    }
  }
  if (trigger.type === 'prometheus') {
    const query = (meta.query ?? '').trim();
    if (!/^(sum|max|min|avg|count)\s*\(/.test(query)) v('prometheus-single-series', 'query must aggregate to one series, e.g. sum(...)');
    if (/\b(by|without)\s*\(/.test(query)) v('prometheus-single-series', 'query groups by labels and may return several series');
    if (meta.ignoreNullValues !== 'false')
      v('prometheus-ignore-null', 'ignoreNullValues must be "false": an empty result must not read as 0');
  }
  return out;
}

/** KEDA resolves Service names from its own namespace: a `<svc>.<ns>.svc` host must name the object's namespace. */
function checkServiceNamespace(scaler: K8sObject, url: URL, report: (message: string) => void): void {
  const svc = /^[^.]+\.([^.]+)\.svc(\.|$)/.exec(url.hostname);
  // only rendered overlays carry a namespace; the namespace-agnostic base is checked through them
  if (svc && scaler.metadata.namespace !== undefined && svc[1] !== scaler.metadata.namespace) {
    report(`${url.hostname} is in namespace ${svc[1]} but the object is in ${scaler.metadata.namespace}`);
  }
}

function checkScaledJobHygiene(sj: K8sObject): Violation[] {
  const out: Violation[] = [];
  const v = (rule: string, message: string, field: string) => out.push({ object: describe(sj), field: `spec.${field}`, rule, message });
  const spec = (sj as Json).spec as Json;
  const job = spec.jobTargetRef as Json;
  if (get(spec, 'rollout', 'strategy') !== 'gradual')
    v('sj-rollout-gradual', 'rollout.strategy must be gradual (the default deletes running Jobs on a spec change)', 'rollout.strategy');
  for (const key of ['successfulJobsHistoryLimit', 'failedJobsHistoryLimit']) {
    const n = spec[key];
    if (typeof n !== 'number' || n > 10) v('sj-history-limits', `${key} must be set and small (≤ 10), got ${JSON.stringify(n)}`, key);
  }
  if (typeof spec.pollingInterval !== 'number') v('sj-polling-interval', 'pollingInterval must be explicit', 'pollingInterval');
  if (typeof get(spec, 'scalingStrategy', 'strategy') !== 'string')
    v('sj-scaling-strategy', 'scalingStrategy.strategy must be chosen for what the trigger counts', 'scalingStrategy.strategy');
  if (typeof job?.activeDeadlineSeconds !== 'number')
    v('sj-active-deadline', 'jobTargetRef.activeDeadlineSeconds must be set', 'jobTargetRef.activeDeadlineSeconds');
  if (typeof job?.ttlSecondsAfterFinished !== 'number')
    v('sj-ttl', 'jobTargetRef.ttlSecondsAfterFinished must be set', 'jobTargetRef.ttlSecondsAfterFinished');
  const rules = (get(job, 'podFailurePolicy', 'rules') ?? []) as { action?: string; onPodConditions?: { type?: string }[] }[];
  if (!rules.some((r) => r.action === 'Ignore' && r.onPodConditions?.some((c) => c.type === 'DisruptionTarget'))) {
    v('sj-pod-failure-policy', 'podFailurePolicy must Ignore DisruptionTarget (spot eviction, drain)', 'jobTargetRef.podFailurePolicy');
  }
  if (get(job, 'template', 'spec', 'restartPolicy') !== 'Never')
    v('sj-restart-never', 'restartPolicy must be Never (podFailurePolicy requires it)', 'jobTargetRef.template.spec.restartPolicy');
  return out;
}

function checkScaledObjectHygiene(so: K8sObject): Violation[] {
  const out: Violation[] = [];
  const spec = (so as Json).spec as Json;
  const v = (rule: string, message: string, field: string) => out.push({ object: describe(so), field: `spec.${field}`, rule, message });
  if (typeof spec.pollingInterval !== 'number') v('so-polling-interval', 'pollingInterval must be explicit', 'pollingInterval');
  if (typeof spec.cooldownPeriod !== 'number') v('so-cooldown', 'cooldownPeriod must be explicit', 'cooldownPeriod');
  if (get(spec, 'advanced', 'horizontalPodAutoscalerConfig', 'behavior') === undefined)
    v(
      'so-hpa-behavior',
      'advanced.horizontalPodAutoscalerConfig.behavior must be explicit',
      'advanced.horizontalPodAutoscalerConfig.behavior',
    );
  return out;
}

/** Pod hardening, resources, probes and grace periods for every workload. */
export function checkPods(objects: K8sObject[]): Violation[] {
  const out: Violation[] = [];
  for (const obj of objects) {
    const template = podTemplateOf(obj);
    if (!template) continue;
    const v = (rule: string, message: string, field: PathSegment[]) =>
      out.push({ object: describe(obj), field: fieldPath(field), rule, message });
    const pod = template.spec;
    const podAt = [...templatePath(obj), 'spec'];
    if (typeof pod.terminationGracePeriodSeconds !== 'number')
      v('grace-period', 'terminationGracePeriodSeconds must be explicit', [...podAt, 'terminationGracePeriodSeconds']);
    if (pod.securityContext?.seccompProfile?.type !== 'RuntimeDefault')
      v('seccomp', 'pod seccompProfile must be RuntimeDefault', [...podAt, 'securityContext', 'seccompProfile', 'type']);
    for (const { c, at } of containersOf(obj, template)) {
      const sc = c.securityContext ?? {};
      const nonRoot = sc.runAsNonRoot ?? pod.securityContext?.runAsNonRoot;
      if (nonRoot !== true) v('non-root', `${c.name}: runAsNonRoot must be true`, [...at, 'securityContext', 'runAsNonRoot']);
      if (sc.allowPrivilegeEscalation !== false)
        v('no-privilege-escalation', `${c.name}: allowPrivilegeEscalation must be false`, [
          ...at,
          'securityContext',
          'allowPrivilegeEscalation',
        ]);
      if (sc.readOnlyRootFilesystem !== true)
        v('read-only-root', `${c.name}: readOnlyRootFilesystem must be true`, [...at, 'securityContext', 'readOnlyRootFilesystem']);
      if (!sc.capabilities?.drop?.includes('ALL'))
        v('drop-all', `${c.name}: capabilities.drop must include ALL`, [...at, 'securityContext', 'capabilities', 'drop']);
      for (const part of ['requests', 'limits'] as const) {
        for (const r of ['cpu', 'memory'])
          if (!c.resources?.[part]?.[r]) v('resources', `${c.name}: resources.${part}.${r} must be set`, [...at, 'resources', part, r]);
      }
      if ((c.ports?.length ?? 0) > 0 && (!c.readinessProbe || !c.livenessProbe))
        v('probes', `${c.name}: serves a port, so it needs readiness and liveness probes`, at);
      const drain = resolveEnv(c, objects, ns(obj)).get('DRAIN_TIMEOUT_MS');
      if (drain !== undefined && !((pod.terminationGracePeriodSeconds ?? 30) > Number(drain) / 1000)) {
        v(
          'grace-above-drain',
          `${c.name}: terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds ?? 30} must exceed DRAIN_TIMEOUT_MS/1000 (${Number(drain) / 1000})`,
          [...podAt, 'terminationGracePeriodSeconds'],
        );
      }
    }
    if (obj.kind === 'Deployment' || obj.kind === 'StatefulSet') {
      const selector = get(obj, 'spec', 'selector', 'matchLabels') as Record<string, string> | undefined;
      const keys = Object.keys(selector ?? {});
      if (keys.length !== 1 || keys[0] !== 'app.kubernetes.io/name')
        v('one-selector-label', `selector must be exactly app.kubernetes.io/name, got ${JSON.stringify(selector)}`, [
          'spec',
          'selector',
          'matchLabels',
        ]);
      else if (template.metadata?.labels?.['app.kubernetes.io/name'] !== selector?.['app.kubernetes.io/name'])
        v('one-selector-label', 'pod template label does not match the selector', [...templatePath(obj), 'metadata', 'labels']);
    }
  }
  return out;
}

const SECRET_NAME = /(TOKEN|PASSWORD|PASS|SECRET|CONNECTION_STRING|ACCOUNT_KEY|API_KEY)$/;
const SECRET_VALUE = [/SharedAccessKey=/i, /AccountKey=/i, /SharedAccessSignature=/i, /:\/\/[^/\s:@$]+:(?!\$\()[^@\s]+@/];

/** No credential is written into the manifests: no Secret objects, no literal secret-looking env values. */
export function checkNoPlaintextSecrets(objects: K8sObject[]): Violation[] {
  const out: Violation[] = [];
  for (const obj of objects) {
    if (obj.kind === 'Secret')
      out.push({ object: describe(obj), rule: 'no-secrets', message: 'Secrets are created out of band, never rendered from the repo' });
    const template = podTemplateOf(obj);
    for (const { c, at } of template ? containersOf(obj, template) : []) {
      for (const [i, e] of (c.env ?? []).entries()) {
        if (e.value === undefined) continue;
        const field = fieldPath([...at, 'env', i, 'value']);
        if (SECRET_NAME.test(e.name))
          out.push({
            object: describe(obj),
            field,
            rule: 'no-plaintext-secret',
            message: `${c.name}: ${e.name} has a literal value; use valueFrom.secretKeyRef`,
          });
        else if (SECRET_VALUE.some((re) => re.test(e.value ?? '')))
          out.push({ object: describe(obj), field, rule: 'no-plaintext-secret', message: `${c.name}: ${e.name} looks like a credential` });
      }
    }
    const text = JSON.stringify({
      data: (obj as Json).data,
      spec: obj.kind === 'TriggerAuthentication' || obj.kind.startsWith('Scaled') ? (obj as Json).spec : undefined,
    });
    if (SECRET_VALUE.some((re) => re.test(text)))
      out.push({ object: describe(obj), rule: 'no-plaintext-secret', message: 'contains a credential-looking value' });
  }
  return out;
}

/** Every image is pinned (a tag other than latest, or a digest), which in our layout means kustomize `images` set it. */
export function checkImages(objects: K8sObject[]): Violation[] {
  const out: Violation[] = [];
  for (const obj of objects) {
    const template = podTemplateOf(obj);
    for (const { c, at } of template ? containersOf(obj, template) : []) {
      const image = c.image ?? '';
      const lastPart = image.split('/').pop() ?? '';
      const pinned = image.includes('@sha256:') || (lastPart.includes(':') && !lastPart.endsWith(':latest'));
      if (!pinned)
        out.push({
          object: describe(obj),
          field: fieldPath([...at, 'image']),
          rule: 'image-pinned',
          message: `${c.name}: image ${JSON.stringify(image)} has no tag or digest (set it with kustomize images)`,
        });
    }
  }
  return out;
}

/** Bare image names in source files: the tag belongs to kustomize `images`, so overlays can change it. */
export function checkSourceImagesBare(objects: K8sObject[], file: string): Violation[] {
  const out: Violation[] = [];
  for (const obj of objects) {
    const template = podTemplateOf(obj);
    for (const c of template?.spec.containers ?? []) {
      const lastPart = (c.image ?? '').split('/').pop() ?? '';
      if (lastPart.includes(':') || lastPart.includes('@'))
        out.push({
          object: `${file}: ${describe(obj)}`,
          rule: 'images-via-kustomize',
          message: `${c.name}: ${c.image} carries a tag; set it in kustomization images`,
        });
    }
  }
  return out;
}

export function checkAll(objects: K8sObject[]): Violation[] {
  return [...checkScalers(objects), ...checkPods(objects), ...checkNoPlaintextSecrets(objects), ...checkImages(objects)];
}
