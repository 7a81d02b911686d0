/**
 * Ports that must resolve: a probe's port (httpGet, tcpSocket, grpc; by name or number) is a
 * containerPort of the same container, and a Service's targetPort (by name or number; defaults to
 * `port`) is declared by the containers of every pod template the Service selects. The API server
 * checks neither: an undeclared named port leaves a probe failing forever and a Service without
 * endpoints.
 */
import { describe, fieldPath, type PathSegment, type Problem } from './problems.ts';
import type { K8sObject } from './render.ts';

type Json = Record<string, unknown>;
interface ContainerPort {
  name?: string;
  containerPort?: number;
  protocol?: string;
}
interface Container {
  name?: string;
  ports?: ContainerPort[];
  [probe: string]: unknown;
}
interface PodTemplate {
  metadata?: { labels?: Record<string, string> };
  spec?: { containers?: Container[]; initContainers?: Container[] };
}

/** Every pod template in the input, with the path to it: workloads, CronJobs, ScaledJobs and bare Pods. */
export function podTemplates(objects: K8sObject[]): { obj: K8sObject; template: PodTemplate; at: PathSegment[] }[] {
  const out: { obj: K8sObject; template: PodTemplate; at: PathSegment[] }[] = [];
  const get = (value: unknown, keys: PathSegment[]) =>
    keys.reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Json)[k] : undefined), value);
  for (const obj of objects) {
    let at: PathSegment[] | undefined;
    if (['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'ReplicationController'].includes(obj.kind))
      at = ['spec', 'template'];
    else if (obj.kind === 'CronJob') at = ['spec', 'jobTemplate', 'spec', 'template'];
    else if (obj.kind === 'ScaledJob' && obj.apiVersion.startsWith('keda.sh/')) at = ['spec', 'jobTargetRef', 'template'];
    else if (obj.kind === 'Pod') at = [];
    if (!at) continue;
    const template = get(obj, at);
    if (template && typeof template === 'object') out.push({ obj, template: template as PodTemplate, at });
  }
  return out;
}

const PROBES = ['readinessProbe', 'livenessProbe', 'startupProbe'] as const;
const HANDLERS = ['httpGet', 'tcpSocket', 'grpc'] as const;

function declares(ports: ContainerPort[] | undefined, port: unknown, protocol = 'TCP'): boolean {
  return (ports ?? []).some(
    (p) => (typeof port === 'string' ? p.name === port : p.containerPort === port) && (p.protocol ?? 'TCP') === protocol,
  );
}

export function checkProbePorts(objects: K8sObject[]): Problem[] {
  const out: Problem[] = [];
  for (const { obj, template, at } of podTemplates(objects)) {
    for (const list of ['initContainers', 'containers'] as const) {
      (template.spec?.[list] ?? []).forEach((c, i) => {
        for (const probe of PROBES) {
          const spec = c[probe] as Json | undefined;
          for (const handler of HANDLERS) {
            const port = (spec?.[handler] as { port?: unknown } | undefined)?.port;
            if (port === undefined || declares(c.ports, port)) continue;
            const what = typeof port === 'string' ? `named port "${port}"` : `port ${String(port)}`;
            out.push({
              object: describe(obj),
              field: fieldPath([...at, 'spec', list, i, probe, handler, 'port']),
              rule: 'probe-port-declared',
              message: `${c.name ?? `container ${i}`}: ${probe} uses ${what}, which the container does not declare in ports (declared: ${declaredList(c.ports)})`,
            });
          }
        }
      });
    }
  }
  return out;
}

function declaredList(ports: ContainerPort[] | undefined): string {
  return (ports ?? []).map((p) => (p.name ? `${p.name}=${p.containerPort}` : String(p.containerPort))).join(', ') || 'none';
}

export function checkServicePorts(objects: K8sObject[]): Problem[] {
  const out: Problem[] = [];
  const templates = podTemplates(objects);
  for (const svc of objects.filter((o) => o.kind === 'Service' && o.apiVersion === 'v1')) {
    const spec = ((svc as Json).spec ?? {}) as {
      selector?: Record<string, string>;
      type?: string;
      ports?: { name?: string; port?: number; targetPort?: unknown; protocol?: string }[];
    };
    // no selector: endpoints are managed by hand; ExternalName: no pods at all
    if (!spec.selector || Object.keys(spec.selector).length === 0 || spec.type === 'ExternalName') continue;
    const selected = templates.filter(
      ({ obj, template }) =>
        (obj.metadata.namespace ?? 'default') === (svc.metadata.namespace ?? 'default') &&
        Object.entries(spec.selector ?? {}).every(([k, v]) => template.metadata?.labels?.[k] === v),
    );
    if (selected.length === 0) {
      out.push({
        object: describe(svc),
        field: 'spec.selector',
        rule: 'service-selects-pods',
        message: `selects no pod template in the input (${JSON.stringify(spec.selector)})`,
      });
      continue;
    }
    (spec.ports ?? []).forEach((port, i) => {
      const target = port.targetPort ?? port.port;
      for (const { obj, template } of selected) {
        // native sidecars (init containers that keep running) serve ports too
        const containers = [
          ...(template.spec?.containers ?? []),
          ...(template.spec?.initContainers ?? []).filter((c) => c.restartPolicy === 'Always'),
        ];
        if (containers.some((c) => declares(c.ports, target, port.protocol ?? 'TCP'))) continue;
        const what = typeof target === 'string' ? `named port "${target}"` : `port ${String(target)}`;
        out.push({
          object: describe(svc),
          field: fieldPath(['spec', 'ports', i, port.targetPort === undefined ? 'port' : 'targetPort']),
          rule: 'service-target-port-declared',
          message: `targets ${what}/${port.protocol ?? 'TCP'}, which no container of ${describe(obj)} declares (declared: ${containers.map((c) => declaredList(c.ports)).join('; ')})`,
        });
      }
    });
  }
  return out;
}
