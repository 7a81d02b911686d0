/**
 * Schema validation of rendered objects, as strict as `kubectl apply --validate=strict` (the default):
 * wrong types, missing required fields and unknown fields at any depth are all errors.
 *
 * Kubernetes kinds — pinned to Kubernetes **1.36**, from two npm packages generated from the
 * Kubernetes OpenAPI spec (no schema is written here):
 * - `kubernetes-models` 5.1.0 (generated from Kubernetes v1.36.0, see its CHANGELOG 5.0.0): types,
 *   required fields, enums and formats. It ships only precompiled ajv validators (since 4.4.0),
 *   which accept unknown fields and cannot be made strict.
 * - `@kubernetes/client-node` 2.0.1 (the official client, generated from the `release-1.36`
 *   OpenAPI spec): its models list every property of every definition with the property's type
 *   (`attributeTypeMap`). Walking those from the object's kind rejects unknown fields at every
 *   depth. Types that are not objects stop the walk: int-or-string (`IntOrString`), quantities and
 *   other strings, and `any` (RawExtension / x-kubernetes-preserve-unknown-fields). Embedded
 *   ObjectMeta (pod templates, volumeClaimTemplates) is a `V1ObjectMeta` like any other model.
 * No maintained npm package we found ships the raw Kubernetes OpenAPI / JSON schemas for a current
 * minor (kubernetes-models did up to 4.3.x, Kubernetes 1.27; godaddy's client stopped at 1.17),
 * hence this pairing.
 *
 * KEDA kinds: KEDA's own CRDs, vendored in `deploy/crds/keda/` (release line v2.20), compiled with
 * ajv after `strictStructuralSchema`. The CRDs leave `metadata` and the Job template's metadata
 * untyped; those are walked as `V1ObjectMeta`, and `jobTargetRef` as `V1JobSpec`.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { parse } from 'yaml';
import { describe, didYouMean, fieldPath, pointerSegments, type PathSegment, type Problem } from './problems.ts';
import type { K8sObject } from './render.ts';

/** The Kubernetes minor both schema packages were generated from. */
export const KUBERNETES_MINOR = '1.36';
/** The vendored KEDA CRDs (see the README there for provenance and how to update). */
export const KEDA_CRD_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'crds', 'keda');
export const KEDA_RELEASE_LINE = 'v2.20';

type Json = Record<string, unknown>;

const isKeda = (obj: K8sObject) => obj.apiVersion.startsWith('keda.sh/');

// ---- kubernetes-models: types, required fields, enums --------------------------------------

interface ModelClass {
  new (data: unknown): { validate(): void };
}

async function loadModel(apiVersion: string, kind: string): Promise<ModelClass | undefined> {
  try {
    const mod = (await import(`kubernetes-models/${apiVersion}`)) as Record<string, unknown>;
    return mod[kind] as ModelClass | undefined;
  } catch {
    return undefined;
  }
}

function ajvProblems(
  object: string,
  errors: readonly ErrorObject[],
  prefix: readonly PathSegment[],
  rule: string,
  unknownRule: string,
  source: string,
): Problem[] {
  return errors.map((e) => {
    const at = [...prefix, ...pointerSegments(e.instancePath)];
    if (e.keyword === 'additionalProperties') {
      const name = String((e.params as { additionalProperty?: string }).additionalProperty);
      return { object, field: fieldPath([...at, name]), rule: unknownRule, message: `unknown field "${name}" (${source})` };
    }
    const missing = (e.params as { missingProperty?: string }).missingProperty;
    if (e.keyword === 'required' && missing)
      return { object, field: fieldPath([...at, missing]), rule, message: `required field is missing (${source})` };
    const allowed = (e.params as { allowedValues?: unknown[] }).allowedValues;
    return {
      object,
      field: fieldPath(at) || '.',
      rule,
      message: `${e.message ?? e.keyword}${allowed ? `: ${allowed.map((v) => JSON.stringify(v)).join(', ')}` : ''} (${source})`,
    };
  });
}

/** Types, required fields and enums with `kubernetes-models`; a kind it does not know is a problem, not a pass. */
export async function validateWithModels(obj: K8sObject): Promise<Problem[]> {
  const source = `Kubernetes ${KUBERNETES_MINOR} schema`;
  const Model = await loadModel(obj.apiVersion, obj.kind);
  if (!Model)
    return [
      {
        object: describe(obj),
        field: 'kind',
        rule: 'k8s-schema',
        message: `no ${source} for apiVersion ${obj.apiVersion} kind ${obj.kind}`,
      },
    ];
  try {
    new Model(obj).validate();
    return [];
  } catch (error) {
    const errors = (error as { errors?: ErrorObject[] }).errors;
    if (!errors) return [{ object: describe(obj), rule: 'k8s-schema', message: `${(error as Error).message} (${source})` }];
    return ajvProblems(describe(obj), errors, [], 'k8s-schema', 'k8s-unknown-field', source);
  }
}

// ---- @kubernetes/client-node: unknown fields at every depth -------------------------------

interface Attribute {
  baseName: string;
  type: string;
}
type Models = Record<string, { attributeTypeMap?: Attribute[] } | undefined>;

let models: Models | undefined;
async function loadModels(): Promise<Models> {
  models ??= (await import('@kubernetes/client-node/dist/gen/models/all.js')) as unknown as Models;
  return models;
}

/** client-node's model name for a top-level kind: group-prefixed where names clash (CoreV1Event, EventsV1Event), else V1Deployment. */
function modelName(all: Models, apiVersion: string, kind: string): string | undefined {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  if (!version) return undefined;
  const v = version.charAt(0).toUpperCase() + version.slice(1);
  const label = group ? group.split('.')[0]! : 'core';
  const prefixed = `${label.charAt(0).toUpperCase()}${label.slice(1)}${v}${kind}`;
  return [prefixed, `${v}${kind}`].find((name) => all[name]?.attributeTypeMap);
}

function walk(all: Models, value: unknown, type: string, at: PathSegment[], object: string, out: Problem[]): void {
  if (value === null || typeof value !== 'object') return; // type mismatches are kubernetes-models' to report
  const array = /^Array<(.+)>$/.exec(type);
  if (array) {
    if (Array.isArray(value)) value.forEach((item, i) => walk(all, item, array[1]!, [...at, i], object, out));
    return;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    for (const [k, v] of Object.entries(value)) walk(all, v, map[1]!, [...at, k], object, out);
    return;
  }
  const attributes = all[type]?.attributeTypeMap;
  if (!attributes || Array.isArray(value)) return; // IntOrString, any, object, Date, primitives
  const known = new Map(attributes.map((a) => [a.baseName, a.type]));
  for (const [k, v] of Object.entries(value as Json)) {
    const childType = known.get(k);
    if (childType === undefined) {
      out.push({
        object,
        field: fieldPath([...at, k]),
        rule: 'k8s-unknown-field',
        message: `unknown field "${k}" in ${type.replace(/^V\d\w*?(?=[A-Z])/, '')}${didYouMean(k, known.keys())} (Kubernetes ${KUBERNETES_MINOR} OpenAPI)`,
      });
    } else {
      walk(all, v, childType, [...at, k], object, out);
    }
  }
}

/** Unknown fields of `value` read as the client-node model `type`, reported under `at`. */
export async function strictFieldProblems(obj: K8sObject, value: unknown, type: string, at: PathSegment[]): Promise<Problem[]> {
  const out: Problem[] = [];
  walk(await loadModels(), value, type, at, describe(obj), out);
  return out;
}

/** Unknown fields of a Kubernetes object, from its kind down. */
export async function validateStrictFields(obj: K8sObject): Promise<Problem[]> {
  const all = await loadModels();
  const name = modelName(all, obj.apiVersion, obj.kind);
  // a kind without a model is already reported by validateWithModels
  return name ? strictFieldProblems(obj, obj, name, []) : [];
}

// ---- KEDA CRDs -----------------------------------------------------------------------------

/**
 * Makes an OpenAPI v3 structural schema reject unknown fields, as the API server's strict field
 * validation does: every object schema with `properties` and no `x-kubernetes-preserve-unknown-fields`
 * gets `additionalProperties: false`. The k8s `x-*` keywords are dropped so ajv stays strict otherwise.
 */
export function strictStructuralSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(strictStructuralSchema);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Json = {};
  for (const [key, value] of Object.entries(schema as Json)) {
    if (key.startsWith('x-kubernetes-')) continue;
    if (key === 'properties' && value && typeof value === 'object') {
      out[key] = Object.fromEntries(Object.entries(value as Json).map(([k, v]) => [k, strictStructuralSchema(v)]));
    } else {
      out[key] = strictStructuralSchema(value);
    }
  }
  const source = schema as Json;
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

const KEDA_KINDS = ['ScaledObject', 'ScaledJob', 'TriggerAuthentication', 'ClusterTriggerAuthentication'];

/** Compiles every CRD in `dir` (kind@group/version → validator); fails when one of KEDA's four kinds is missing. */
export async function loadCrdValidators(dir = KEDA_CRD_DIR): Promise<CrdValidators> {
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
      const schema = strictStructuralSchema(version.schema.openAPIV3Schema) as Json;
      // metadata is checked by the API server itself (here: as V1ObjectMeta), not by the CRD schema
      const properties = (schema.properties ?? {}) as Json;
      properties.metadata = { type: 'object' };
      schema.properties = properties;
      byKind.set(`${crd.spec.names.kind}@${crd.spec.group}/${version.name}`, ajv.compile(schema));
    }
  }
  const missing = KEDA_KINDS.filter((kind) => ![...byKind.keys()].some((k) => k.startsWith(`${kind}@keda.sh/`)));
  if (missing.length > 0) throw new Error(`${dir}: no CRD for ${missing.join(', ')}`);
  return { dir, byKind };
}

export function validateWithCrds(obj: K8sObject, crds: CrdValidators): Problem[] {
  const validate = crds.byKind.get(`${obj.kind}@${obj.apiVersion}`);
  const source = `KEDA ${KEDA_RELEASE_LINE} CRD`;
  if (!validate)
    return [
      {
        object: describe(obj),
        field: 'kind',
        rule: 'keda-crd-schema',
        message: `no ${source} for apiVersion ${obj.apiVersion} kind ${obj.kind}`,
      },
    ];
  if (validate(obj)) return [];
  return ajvProblems(describe(obj), validate.errors ?? [], [], 'keda-crd-schema', 'keda-crd-unknown-field', source);
}

/** All schema checks for one object: KEDA kinds against the CRDs, everything else against Kubernetes 1.36. */
export async function validateSchemas(obj: K8sObject, crds: CrdValidators): Promise<Problem[]> {
  if (!isKeda(obj)) return [...(await validateWithModels(obj)), ...(await validateStrictFields(obj))];
  const out = validateWithCrds(obj, crds);
  out.push(...(await strictFieldProblems(obj, obj.metadata, 'V1ObjectMeta', ['metadata'])));
  const jobTargetRef = obj.kind === 'ScaledJob' ? (obj.spec as Json | undefined)?.jobTargetRef : undefined;
  if (jobTargetRef !== undefined) {
    // the CRD already types most of the JobSpec: report each field once
    const reported = new Set(out.map((p) => p.field));
    out.push(
      ...(await strictFieldProblems(obj, jobTargetRef, 'V1JobSpec', ['spec', 'jobTargetRef'])).filter((p) => !reported.has(p.field)),
    );
  }
  return out;
}
