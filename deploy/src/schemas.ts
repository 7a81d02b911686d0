/**
 * Schema validation of rendered objects.
 *
 * - Kubernetes kinds: the validators that `kubernetes-models` compiles from the Kubernetes OpenAPI
 *   spec (apps/v1, batch/v1, core v1, …).
 * - KEDA kinds: always `@kubernetes-models/keda` (its ScaledJob validator also checks jobTargetRef
 *   against the Kubernetes JobSpec), and additionally the CRDs KEDA publishes when
 *   `../shared/data/keda-crds` exists beside the repository. Those are compiled with ajv in the way
 *   `kubectl apply` validates by default (`--validate=strict`): unknown fields are errors.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { parse } from 'yaml';
import type { K8sObject } from './render.ts';

export interface SchemaIssue {
  object: string;
  source: string;
  message: string;
}

export function describe(obj: K8sObject): string {
  return `${obj.kind}/${obj.metadata.namespace ? `${obj.metadata.namespace}/` : ''}${obj.metadata.name}`;
}

interface ModelClass {
  new (data: unknown): { validate(): void };
}

async function loadModel(apiVersion: string, kind: string): Promise<ModelClass | undefined> {
  const specifier = apiVersion.startsWith('keda.sh/') ? `@kubernetes-models/keda/${apiVersion}` : `kubernetes-models/${apiVersion}`;
  try {
    const mod = (await import(specifier)) as Record<string, unknown>;
    return mod[kind] as ModelClass | undefined;
  } catch {
    return undefined;
  }
}

/** Validates with the npm models; an object of a kind no model covers is an issue, not a silent pass. */
export async function validateWithModels(obj: K8sObject): Promise<SchemaIssue[]> {
  const Model = await loadModel(obj.apiVersion, obj.kind);
  const source = obj.apiVersion.startsWith('keda.sh/') ? '@kubernetes-models/keda' : 'kubernetes-models';
  if (!Model) return [{ object: describe(obj), source, message: `no schema for ${obj.apiVersion} ${obj.kind}` }];
  try {
    new Model(obj).validate();
    return [];
  } catch (error) {
    return [{ object: describe(obj), source, message: (error as Error).message }];
  }
}

type JsonSchema = Record<string, unknown>;

/**
 * Makes an OpenAPI v3 structural schema reject unknown fields, as the API server's strict field
 * validation does: every object schema with `properties` and no `x-kubernetes-preserve-unknown-fields`
 * gets `additionalProperties: false`. The k8s `x-*` keywords are dropped so ajv stays strict otherwise.
 */
export function strictStructuralSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(strictStructuralSchema);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(schema as JsonSchema)) {
    if (key.startsWith('x-kubernetes-')) continue;
    if (key === 'properties' && value && typeof value === 'object') {
      out[key] = Object.fromEntries(Object.entries(value as JsonSchema).map(([k, v]) => [k, strictStructuralSchema(v)]));
    } else {
      out[key] = strictStructuralSchema(value);
    }
  }
  const source = schema as JsonSchema;
  if (source.properties && source.additionalProperties === undefined && source['x-kubernetes-preserve-unknown-fields'] !== true) {
    out.additionalProperties = false;
  }
  // x-kubernetes-int-or-string without an explicit type: accept both, as the API server does
  if (source['x-kubernetes-int-or-string'] === true && out.anyOf === undefined) {
    delete out.type;
    out.anyOf = [{ type: 'integer' }, { type: 'string' }];
  }
  return out;
}

export interface CrdValidators {
  dir: string;
  byKind: Map<string, ValidateFunction>;
}

/** Where the published KEDA CRDs live when the repository is checked out beside `shared/`. */
export function kedaCrdDir(repoRoot: string): string {
  return path.resolve(repoRoot, '..', 'shared', 'data', 'keda-crds');
}

/** Compiles every CRD in `dir` (kind@apiVersion → validator); undefined when the folder is absent. */
export async function loadCrdValidators(dir: string): Promise<CrdValidators | undefined> {
  if (!existsSync(dir)) return undefined;
  const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false });
  const byKind = new Map<string, ValidateFunction>();
  for (const file of (await readdir(dir)).filter((f) => f.endsWith('.yaml')).sort()) {
    const crd = parse(await readFile(path.join(dir, file), 'utf8')) as {
      kind?: string;
      spec?: { group: string; names: { kind: string }; versions: { name: string; schema?: { openAPIV3Schema: unknown } }[] };
    };
    if (crd?.kind !== 'CustomResourceDefinition' || !crd.spec) continue;
    for (const version of crd.spec.versions) {
      if (!version.schema) continue;
      const schema = strictStructuralSchema(version.schema.openAPIV3Schema) as JsonSchema;
      // apiVersion, kind and metadata are checked by the API server itself, not by the CRD schema
      const properties = (schema.properties ?? {}) as JsonSchema;
      properties.metadata = { type: 'object' };
      schema.properties = properties;
      byKind.set(`${crd.spec.names.kind}@${crd.spec.group}/${version.name}`, ajv.compile(schema));
    }
  }
  return { dir, byKind };
}

export function validateWithCrds(obj: K8sObject, crds: CrdValidators): SchemaIssue[] {
  const validate = crds.byKind.get(`${obj.kind}@${obj.apiVersion}`);
  const source = `CRD ${path.basename(crds.dir)}`;
  if (!validate) return [{ object: describe(obj), source, message: `no CRD for ${obj.apiVersion} ${obj.kind}` }];
  if (validate(obj)) return [];
  return (validate.errors ?? []).map((e) => ({
    object: describe(obj),
    source,
    message: `${e.instancePath || '/'} ${e.message ?? e.keyword}${e.keyword === 'additionalProperties' ? ` (${String((e.params as { additionalProperty?: string }).additionalProperty)})` : ''}`,
  }));
}
