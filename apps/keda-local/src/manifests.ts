/**
 * Reads the ScaledJob and ScaledObject an overlay declares, without kubectl: the overlay's
 * kustomization `resources` are followed (folders through their own kustomization.yaml, files as
 * YAML documents) and its `patches` are merged onto the object of the same kind and name (objects
 * merge, lists replace — enough for KEDA objects, whose lists are replaced wholesale). Other
 * kustomize features (generators, components, images) do not change scaling and are ignored.
 */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { SurgeError } from '@surge/core';
import { parseScaledJob, parseScaledObject, type ScaledJobSpec, type ScaledObjectSpec } from '@surge/scaling';
import { parseAllDocuments } from 'yaml';

export class OverlayError extends SurgeError {
  constructor(message: string, cause?: unknown) {
    super('OVERLAY_INVALID', message, { retryable: false, cause });
  }
}

type Doc = Record<string, unknown>;

function isObject(value: unknown): value is Doc {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function readYaml(file: string): Doc[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new OverlayError(`${file}: cannot read (${(error as Error).message})`, error);
  }
  const docs: Doc[] = [];
  for (const document of parseAllDocuments(text)) {
    if (!('errors' in document)) continue;
    if (document.errors.length > 0) throw new OverlayError(`${file}: ${document.errors[0]?.message ?? 'invalid YAML'}`);
    const value: unknown = document.toJS();
    if (isObject(value)) docs.push(value);
  }
  return docs;
}

/** RFC 7386-style merge: objects merge key by key, `null` deletes, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const result: Doc = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

const keyOf = (doc: Doc): string => `${String(doc['kind'])}/${String((doc['metadata'] as Doc | undefined)?.['name'])}`;

/** Every object a kustomization (folder) or YAML file yields, patches applied. */
export function loadObjects(entry: string, seen = new Set<string>()): Doc[] {
  const resolved = path.resolve(entry);
  if (seen.has(resolved)) throw new OverlayError(`${resolved}: a kustomization cycle`);
  seen.add(resolved);
  let isDir: boolean;
  try {
    isDir = statSync(resolved).isDirectory();
  } catch (error) {
    throw new OverlayError(`${resolved}: no such file or folder`, error);
  }
  if (!isDir) return readYaml(resolved);

  const kustomization = ['kustomization.yaml', 'kustomization.yml', 'Kustomization']
    .map((n) => path.join(resolved, n))
    .find((f) => statSafe(f));
  if (kustomization === undefined) {
    throw new OverlayError(`${resolved}: no kustomization.yaml`);
  }
  const k = readYaml(kustomization)[0] ?? {};
  const objects: Doc[] = [];
  for (const resource of asStrings(k['resources'])) objects.push(...loadObjects(path.join(resolved, resource), seen));
  const patchFiles = [
    ...asStrings(k['patchesStrategicMerge']),
    ...(Array.isArray(k['patches']) ? k['patches'] : []).flatMap((p: unknown) =>
      isObject(p) && typeof p['path'] === 'string' ? [p['path']] : [],
    ),
  ];
  for (const file of patchFiles) {
    for (const patch of readYaml(path.join(resolved, file))) {
      const index = objects.findIndex((o) => keyOf(o) === keyOf(patch));
      // A patch for an object the base does not have is how a self-contained file is added too.
      if (index < 0) objects.push(patch);
      else objects[index] = mergePatch(objects[index], patch) as Doc;
    }
  }
  return objects;
}

function statSafe(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

function asStrings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

export interface PodTemplateFacts {
  /** `terminationGracePeriodSeconds`, Kubernetes default 30. */
  readonly terminationGraceSeconds: number;
}

export interface OverlayScaling {
  readonly scaledObject: { readonly spec: ScaledObjectSpec; readonly pod: PodTemplateFacts } | undefined;
  readonly scaledJob:
    | {
        readonly spec: ScaledJobSpec;
        readonly pod: PodTemplateFacts;
        readonly backoffLimit: number;
        readonly failJobExitCodes: readonly number[];
      }
    | undefined;
  readonly warnings: readonly string[];
}

/** Exit codes of `podFailurePolicy` rules `FailJob` / `onExitCodes` / `In` (the only form keda-local models). */
function failJobExitCodesOf(jobSpec: Doc | undefined): number[] {
  const rules = (jobSpec?.['podFailurePolicy'] as Doc | undefined)?.['rules'];
  if (!Array.isArray(rules)) return [];
  return rules.flatMap((rule: unknown) => {
    if (!isObject(rule) || rule['action'] !== 'FailJob' || !isObject(rule['onExitCodes']) || rule['onExitCodes']['operator'] !== 'In')
      return [];
    const values = rule['onExitCodes']['values'];
    return Array.isArray(values) ? values.filter((v): v is number => typeof v === 'number') : [];
  });
}

function graceOf(podSpec: unknown): number {
  const value = isObject(podSpec) ? podSpec['terminationGracePeriodSeconds'] : undefined;
  return typeof value === 'number' && value >= 0 ? value : 30;
}

/** The first ScaledObject and ScaledJob of the overlay, parsed with KEDA's defaults, plus pod facts. */
export function readOverlay(dir: string): OverlayScaling {
  const objects = loadObjects(dir);
  const warnings: string[] = [];
  const so = objects.find((o) => o['kind'] === 'ScaledObject');
  const sj = objects.find((o) => o['kind'] === 'ScaledJob');
  if (!so && !sj) throw new OverlayError(`${dir}: declares neither a ScaledObject nor a ScaledJob`);

  let scaledObject: OverlayScaling['scaledObject'];
  if (so) {
    const parsed = parseScaledObject(so, { allowUnsupported: true });
    warnings.push(...parsed.warnings.map((w) => `ScaledObject/${parsed.spec.name}: ${w}`));
    const target = parsed.spec.scaleTargetRef;
    const deployment = objects.find((o) => o['kind'] === target.kind && (o['metadata'] as Doc | undefined)?.['name'] === target.name);
    if (!deployment)
      warnings.push(
        `ScaledObject/${parsed.spec.name}: target ${target.kind}/${target.name} is not in the overlay; grace period defaults to 30 s`,
      );
    const podSpec = ((deployment?.['spec'] as Doc | undefined)?.['template'] as Doc | undefined)?.['spec'];
    scaledObject = { spec: parsed.spec, pod: { terminationGraceSeconds: graceOf(podSpec) } };
  }
  let scaledJob: OverlayScaling['scaledJob'];
  if (sj) {
    const parsed = parseScaledJob(sj, { allowUnsupported: true });
    warnings.push(...parsed.warnings.map((w) => `ScaledJob/${parsed.spec.name}: ${w}`));
    const jobSpec = (sj['spec'] as Doc)['jobTargetRef'] as Doc | undefined;
    const podSpec = (jobSpec?.['template'] as Doc | undefined)?.['spec'];
    const backoffLimit = typeof jobSpec?.['backoffLimit'] === 'number' ? jobSpec['backoffLimit'] : 6;
    scaledJob = {
      spec: parsed.spec,
      pod: { terminationGraceSeconds: graceOf(podSpec) },
      backoffLimit,
      failJobExitCodes: failJobExitCodesOf(jobSpec),
    };
  }
  return { scaledObject, scaledJob, warnings };
}
