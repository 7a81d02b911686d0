/**
 * How the base manifests run each app's pod, read from `kubectl kustomize deploy/kustomize/base`:
 * the container's environment (literal values, `envFrom` ConfigMaps, `fieldRef` metadata.name,
 * Secrets supplied by the caller), the paths mounted from `emptyDir` volumes (the only writable
 * ones: the root filesystem is read-only), the user, the grace period and the container port.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from './paths.ts';

export class PodSpecError extends Error {
  readonly code = 'E2E_POD_SPEC';
  readonly retryable = false;
}

export interface PodRun {
  app: string;
  /** `metadata.name` a pod of it would have (what `fieldRef: metadata.name` yields) */
  podName: string;
  env: Record<string, string>;
  /** mount paths of `emptyDir` volumes */
  writablePaths: string[];
  runAsUser: number | undefined;
  runAsGroup: number | undefined;
  readOnlyRootFilesystem: boolean;
  terminationGracePeriodSeconds: number;
  /** first `containerPort`, undefined for an app that serves nothing */
  port: number | undefined;
}

interface Obj {
  kind?: string;
  metadata?: { name?: string };
  data?: Record<string, string>;
  spec?: Record<string, unknown>;
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    fieldRef?: { fieldPath?: string };
    secretKeyRef?: { name: string; key: string };
    configMapKeyRef?: { name: string; key: string };
  };
}
interface Container {
  name: string;
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  ports?: { containerPort: number }[];
  volumeMounts?: { name: string; mountPath: string }[];
  securityContext?: { runAsUser?: number; runAsGroup?: number; readOnlyRootFilesystem?: boolean };
}
interface PodSpec {
  containers: Container[];
  volumes?: { name: string; emptyDir?: unknown }[];
  securityContext?: { runAsUser?: number; runAsGroup?: number };
  terminationGracePeriodSeconds?: number;
}

export async function renderBase(): Promise<Obj[]> {
  const { stdout } = await promisify(execFile)('kubectl', ['kustomize', path.join(REPO_ROOT, 'deploy', 'kustomize', 'base')], {
    maxBuffer: 16 * 1024 * 1024,
  });
  return parseAllDocuments(stdout)
    .map((d) => d.toJS() as Obj)
    .filter(Boolean);
}

function podSpecOf(obj: Obj): PodSpec | undefined {
  const spec = obj.spec as { template?: { spec?: PodSpec }; jobTargetRef?: { template?: { spec?: PodSpec } } } | undefined;
  if (obj.kind === 'Deployment') return spec?.template?.spec;
  if (obj.kind === 'ScaledJob') return spec?.jobTargetRef?.template?.spec;
  return undefined;
}

/**
 * The pod of `app` (the workload named after it) as the base manifests run it. `secrets` supplies the
 * value of every `secretKeyRef` as `<secret>/<key>`; a reference without one fails.
 */
export function podRun(objects: Obj[], app: string, secrets: Record<string, string> = {}): PodRun {
  const workload = objects.find((o) => o.metadata?.name === app && podSpecOf(o));
  const pod = workload && podSpecOf(workload);
  const container = pod?.containers.find((c) => c.name === app);
  if (!pod || !container) throw new PodSpecError(`deploy/kustomize/base: no Deployment or ScaledJob ${app} with a container ${app}`);
  const configMap = (name: string) => {
    const found = objects.find((o) => o.kind === 'ConfigMap' && o.metadata?.name === name);
    if (!found) throw new PodSpecError(`${app}: ConfigMap ${name} is referenced but not rendered`);
    return found.data ?? {};
  };
  const podName = `${app}-e2e-0`;
  const env: Record<string, string> = {};
  for (const from of container.envFrom ?? []) {
    if (from.configMapRef) Object.assign(env, configMap(from.configMapRef.name));
    if (from.secretRef) throw new PodSpecError(`${app}: envFrom secretRef ${from.secretRef.name} is not supported by this runner`);
  }
  for (const variable of container.env ?? []) {
    const ref = variable.valueFrom;
    if (variable.value !== undefined) env[variable.name] = variable.value;
    else if (ref?.fieldRef?.fieldPath === 'metadata.name') env[variable.name] = podName;
    else if (ref?.configMapKeyRef) env[variable.name] = configMap(ref.configMapKeyRef.name)[ref.configMapKeyRef.key] ?? '';
    else if (ref?.secretKeyRef) {
      const value = secrets[`${ref.secretKeyRef.name}/${ref.secretKeyRef.key}`];
      if (value === undefined)
        throw new PodSpecError(
          `${app}: env ${variable.name} comes from Secret ${ref.secretKeyRef.name} key ${ref.secretKeyRef.key}; pass a value for it`,
        );
      env[variable.name] = value;
    } else throw new PodSpecError(`${app}: env ${variable.name}: unsupported valueFrom ${JSON.stringify(ref)}`);
  }
  const emptyDirs = new Set((pod.volumes ?? []).filter((v) => v.emptyDir !== undefined).map((v) => v.name));
  return {
    app,
    podName,
    env,
    writablePaths: (container.volumeMounts ?? []).filter((m) => emptyDirs.has(m.name)).map((m) => m.mountPath),
    runAsUser: container.securityContext?.runAsUser ?? pod.securityContext?.runAsUser,
    runAsGroup: container.securityContext?.runAsGroup ?? pod.securityContext?.runAsGroup,
    readOnlyRootFilesystem: container.securityContext?.readOnlyRootFilesystem === true,
    terminationGracePeriodSeconds: pod.terminationGracePeriodSeconds ?? 30,
    port: container.ports?.[0]?.containerPort,
  };
}
