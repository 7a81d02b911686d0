/**
 * The cluster model's workload, read from the overlay exactly as the cluster would get it:
 * `kubectl kustomize <overlay>` renders it (components, patches and images included), then the
 * ScaledJob is parsed with KEDA's defaults and its pod template gives requests, grace period,
 * backoffLimit, podFailurePolicy, tolerations and node selectors.
 */
import { execFileSync } from 'node:child_process';
import { parseScaledJob, parseScaledObject, type ScaledJobSpec, type ScaledObjectSpec } from '@surge/scaling';
import { parseAllDocuments } from 'yaml';
import { SimError } from './errors.ts';

export interface SimPodTemplate {
  readonly cpuMilli: number;
  readonly memoryMiB: number;
  readonly terminationGraceSeconds: number;
  readonly image: string;
  readonly tolerations: readonly string[];
  readonly nodeSelector: Readonly<Record<string, string>>;
}

export interface SimWorkload {
  readonly spec: ScaledJobSpec;
  readonly pod: SimPodTemplate;
  readonly backoffLimit: number;
  readonly failJobExitCodes: readonly number[];
  readonly warnings: readonly string[];
}

/** A ScaledObject and the Deployment it scales: long-running pods that take messages one after another. */
export interface SimDeployment {
  readonly spec: ScaledObjectSpec;
  readonly pod: SimPodTemplate;
  /** Messages a pod works on at once (the worker's `CONCURRENCY`, from its env or envFrom ConfigMap; default 1). */
  readonly concurrency: number;
  readonly warnings: readonly string[];
}

type Doc = Record<string, unknown>;
const isDoc = (v: unknown): v is Doc => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Kubernetes quantities: `500m`, `2`, `2Gi`, `512Mi`, `1G`. */
export function cpuMilli(q: unknown): number {
  if (typeof q === 'number') return q * 1000;
  if (typeof q !== 'string') return 0;
  return q.endsWith('m') ? Number(q.slice(0, -1)) : Number(q) * 1000;
}

export function memoryMiB(q: unknown): number {
  if (typeof q === 'number') return q / 1048576;
  if (typeof q !== 'string') return 0;
  const units: Record<string, number> = {
    Ki: 1 / 1024,
    Mi: 1,
    Gi: 1024,
    Ti: 1048576,
    k: 1000 / 1048576,
    M: 1e6 / 1048576,
    G: 1e9 / 1048576,
  };
  const m = /^([0-9.]+)([A-Za-z]*)$/.exec(q);
  if (!m) return 0;
  return Number(m[1]) * (m[2] === '' ? 1 / 1048576 : (units[m[2] as string] ?? 0));
}

export function renderOverlay(dir: string): Doc[] {
  let text: string;
  try {
    text = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? (error as Error).message)
      .trim()
      .split('\n')[0];
    throw new SimError('OVERLAY_INVALID', `${dir}: kubectl kustomize failed (${stderr})`);
  }
  return parseAllDocuments(text).flatMap((d) => {
    const v: unknown = 'toJS' in d ? d.toJS() : undefined;
    return isDoc(v) ? [v] : [];
  });
}

export function readWorkload(objects: readonly Doc[], source: string): SimWorkload {
  const sj = objects.find((o) => o['kind'] === 'ScaledJob');
  if (!sj) {
    const so = objects.some((o) => o['kind'] === 'ScaledObject');
    throw new SimError(
      'OVERLAY_INVALID',
      `${source}: ${so ? 'declares only a ScaledObject; the simulator models ScaledJobs' : 'declares no KEDA object (no ScaledJob)'}`,
    );
  }
  const parsed = parseScaledJob(sj, { allowUnsupported: true });
  const jobSpec = isDoc(sj['spec']) && isDoc(sj['spec']['jobTargetRef']) ? sj['spec']['jobTargetRef'] : {};
  const template = isDoc(jobSpec['template']) ? jobSpec['template'] : {};
  const podSpec = isDoc(template['spec']) ? template['spec'] : {};
  const rules =
    isDoc(jobSpec['podFailurePolicy']) && Array.isArray(jobSpec['podFailurePolicy']['rules']) ? jobSpec['podFailurePolicy']['rules'] : [];
  const failJobExitCodes = rules.flatMap((r: unknown) =>
    isDoc(r) &&
    r['action'] === 'FailJob' &&
    isDoc(r['onExitCodes']) &&
    r['onExitCodes']['operator'] === 'In' &&
    Array.isArray(r['onExitCodes']['values'])
      ? r['onExitCodes']['values'].filter((v: unknown): v is number => typeof v === 'number')
      : [],
  );
  return {
    spec: parsed.spec,
    pod: podTemplate(podSpec),
    backoffLimit: typeof jobSpec['backoffLimit'] === 'number' ? jobSpec['backoffLimit'] : 6,
    failJobExitCodes: failJobExitCodes.length > 0 ? failJobExitCodes : [2],
    warnings: parsed.warnings,
  };
}

/** Requests, grace period, tolerations and node selectors of a pod spec. */
function podTemplate(podSpec: Doc): SimPodTemplate {
  const containers = Array.isArray(podSpec['containers']) ? podSpec['containers'].filter(isDoc) : [];
  let cpu = 0;
  let memory = 0;
  for (const c of containers) {
    const requests = isDoc(c['resources']) && isDoc(c['resources']['requests']) ? c['resources']['requests'] : {};
    cpu += cpuMilli(requests['cpu']);
    memory += memoryMiB(requests['memory']);
  }
  const tolerations = (Array.isArray(podSpec['tolerations']) ? podSpec['tolerations'] : [])
    .filter(isDoc)
    .map((t) => `${String(t['key'] ?? '')}=${String(t['value'] ?? '')}:${String(t['effect'] ?? '')}`);
  const nodeSelector = isDoc(podSpec['nodeSelector'])
    ? Object.fromEntries(Object.entries(podSpec['nodeSelector']).map(([k, v]) => [k, String(v)]))
    : {};
  const grace = typeof podSpec['terminationGracePeriodSeconds'] === 'number' ? podSpec['terminationGracePeriodSeconds'] : 30;
  return {
    cpuMilli: cpu,
    memoryMiB: memory,
    terminationGraceSeconds: grace,
    image: String(containers[0]?.['image'] ?? ''),
    tolerations,
    nodeSelector,
  };
}

/** A container's `CONCURRENCY`: its own env first, then the ConfigMaps of its envFrom. */
function concurrencyOf(objects: readonly Doc[], podSpec: Doc): number {
  const container = Array.isArray(podSpec['containers']) ? podSpec['containers'].find(isDoc) : undefined;
  if (!isDoc(container)) return 1;
  const env = Array.isArray(container['env']) ? container['env'].filter(isDoc) : [];
  let value: unknown = env.find((e) => e['name'] === 'CONCURRENCY')?.['value'];
  for (const from of Array.isArray(container['envFrom']) ? container['envFrom'].filter(isDoc) : []) {
    if (value !== undefined) break;
    const ref = isDoc(from['configMapRef']) ? from['configMapRef']['name'] : undefined;
    const cm = objects.find((o) => o['kind'] === 'ConfigMap' && isDoc(o['metadata']) && o['metadata']['name'] === ref);
    if (cm && isDoc(cm['data'])) value = cm['data']['CONCURRENCY'];
  }
  const n = Number(value);
  return Number.isInteger(n) && n > 0 ? n : 1;
}

/** A trigger that reads the queue: a broker scaler, or metrics-api on the Surge exporter's per-queue endpoint. */
const readsQueue = (t: ScaledObjectSpec['triggers'][number]): boolean =>
  t.source.getter === 'rabbitmq.queueLength' ||
  t.source.getter === 'azure-servicebus.activeMessageCount' ||
  (t.source.getter === 'metrics-api.value' && t.source.url.includes('/queues/'));

/**
 * Every ScaledObject of the overlay that scales on the queue, with the pod template of the Deployment it
 * targets. One scaling on something else (the web tier on request rate) neither consumes the modelled
 * queue nor has a load to follow here, so it is left out rather than scaled on the queue's depth.
 */
export function readDeployments(objects: readonly Doc[], source: string): SimDeployment[] {
  return objects
    .filter((o) => o['kind'] === 'ScaledObject')
    .map((so) => parseScaledObject(so, { allowUnsupported: true }))
    .filter((parsed) => parsed.spec.triggers.some(readsQueue))
    .map((parsed) => {
      const target = parsed.spec.scaleTargetRef.name;
      const deployment = objects.find((o) => o['kind'] === 'Deployment' && isDoc(o['metadata']) && o['metadata']['name'] === target);
      if (!deployment)
        throw new SimError(
          'OVERLAY_INVALID',
          `${source}: ScaledObject/${parsed.spec.name} targets Deployment/${target}, which the overlay does not declare`,
        );
      const spec =
        isDoc(deployment['spec']) && isDoc(deployment['spec']['template']) && isDoc(deployment['spec']['template']['spec'])
          ? deployment['spec']['template']['spec']
          : {};
      return { spec: parsed.spec, pod: podTemplate(spec), concurrency: concurrencyOf(objects, spec), warnings: parsed.warnings };
    });
}

/** The overlay's KEDA objects: its ScaledJob (if any) and its ScaledObjects; at least one is needed. */
export function readWorkloads(
  objects: readonly Doc[],
  source: string,
): { readonly job: SimWorkload | undefined; readonly deployments: readonly SimDeployment[] } {
  const hasJob = objects.some((o) => o['kind'] === 'ScaledJob');
  const deployments = readDeployments(objects, source);
  if (!hasJob && deployments.length === 0)
    throw new SimError('OVERLAY_INVALID', `${source}: declares no KEDA object (no ScaledJob or ScaledObject)`);
  return { job: hasJob ? readWorkload(objects, source) : undefined, deployments };
}
