/**
 * ScaledObject / ScaledJob manifests → validated, defaulted specs. Field defaults and rules follow KEDA
 * at 8b4f083 (apis/keda/v1alpha1/scaledobject_types.go, scaledjob_types.go, withtriggers_types.go) and the
 * HPA API defaults; see docs/keda-semantics.md#scaledobject-defaults and #scaledjob-fields-and-defaults.
 */
import { parseAllDocuments } from 'yaml';
import { ManifestError } from './errors.ts';
import { ManifestReader } from './manifest-reader.ts';
import {
  KEDA_DEFAULTS,
  type HpaBehavior,
  type HpaScalingPolicy,
  type HpaScalingRules,
  type MultipleScalersCalculation,
  type ScaledJobSpec,
  type ScaledJobStrategy,
  type ScaledObjectSpec,
  type SelectPolicy,
} from './spec.ts';
import { parseTriggers } from './triggers.ts';

export interface ParseOptions {
  /**
   * Treat valid KEDA features this library does not model (fallback, scalingModifiers, pause
   * annotations, other trigger types, …) as warnings and ignore them, instead of failing.
   */
  readonly allowUnsupported?: boolean;
}

export interface Parsed<T> {
  readonly spec: T;
  /** Things KEDA accepts but an operator should know (deprecated keys, silent fallbacks, ignored features). */
  readonly warnings: readonly string[];
}

export type ParsedKedaObject = Parsed<ScaledObjectSpec> | Parsed<ScaledJobSpec>;

const KEDA_API_VERSION = 'keda.sh/v1alpha1';

/** Annotations that change how KEDA scales; we do not model them. `"false"` is a no-op and accepted. */
const BEHAVIOUR_ANNOTATIONS = [
  'autoscaling.keda.sh/paused',
  'autoscaling.keda.sh/paused-replicas',
  'autoscaling.keda.sh/paused-scale-in',
  'autoscaling.keda.sh/paused-scale-out',
  'autoscaling.keda.sh/force-activation',
];

/**
 * HPA `behavior` defaults the API server fills in when any part of `behavior` is set
 * (kubernetes `pkg/apis/autoscaling/v2/defaults.go`; docs/keda-semantics.md#hpa-behavior-policies).
 */
export const HPA_BEHAVIOR_DEFAULTS: HpaBehavior = {
  scaleUp: {
    stabilizationWindowSeconds: 0,
    selectPolicy: 'Max',
    policies: [
      { type: 'Pods', value: 4, periodSeconds: 15 },
      { type: 'Percent', value: 100, periodSeconds: 15 },
    ],
    tolerance: null,
  },
  scaleDown: {
    stabilizationWindowSeconds: null,
    selectPolicy: 'Max',
    policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }],
    tolerance: null,
  },
};

function readMetadata(reader: ManifestReader, manifest: Record<string, unknown>, kind: string) {
  const apiVersion = manifest['apiVersion'];
  if (apiVersion !== undefined && apiVersion !== KEDA_API_VERSION) {
    reader.invalid('apiVersion', `must be ${KEDA_API_VERSION}, got ${JSON.stringify(apiVersion)}`);
  }
  if (manifest['kind'] !== kind) reader.invalid('kind', `must be ${kind}, got ${JSON.stringify(manifest['kind'])}`);
  const metadata = reader.object(manifest['metadata'], 'metadata', true) ?? {};
  const name = reader.string(metadata['name'], 'metadata.name', true) ?? '';
  const namespace = reader.string(metadata['namespace'], 'metadata.namespace', false) ?? null;
  const annotations = reader.object(metadata['annotations'], 'metadata.annotations', false) ?? {};
  for (const key of BEHAVIOUR_ANNOTATIONS) {
    const value = annotations[key];
    if (value !== undefined && value !== 'false')
      reader.unsupported(`metadata.annotations.${key}`, 'pausing and forced activation are not modelled');
  }
  return { name, namespace };
}

function fail(reader: ManifestReader, kind: string, name: string): never {
  throw new ManifestError(`${kind}/${name || '<unnamed>'}`, reader.issues);
}

/** Validates a ScaledObject (plain object, e.g. from YAML) and applies KEDA's and the HPA's defaults. */
export function parseScaledObject(manifest: unknown, options: ParseOptions = {}): Parsed<ScaledObjectSpec> {
  const reader = new ManifestReader(options.allowUnsupported ?? false);
  const root = reader.object(manifest, '<root>', true) ?? {};
  const { name, namespace } = readMetadata(reader, root, 'ScaledObject');
  const spec = reader.object(root['spec'], 'spec', true) ?? {};

  const targetRef = reader.object(spec['scaleTargetRef'], 'spec.scaleTargetRef', true) ?? {};
  const scaleTargetRef = {
    name: reader.string(targetRef['name'], 'spec.scaleTargetRef.name', true) ?? '',
    kind: reader.string(targetRef['kind'], 'spec.scaleTargetRef.kind', false) ?? 'Deployment',
    apiVersion: reader.string(targetRef['apiVersion'], 'spec.scaleTargetRef.apiVersion', false) ?? 'apps/v1',
    envSourceContainerName: reader.string(targetRef['envSourceContainerName'], 'spec.scaleTargetRef.envSourceContainerName', false) ?? null,
  };

  const pollingIntervalSeconds =
    reader.integer(spec['pollingInterval'], 'spec.pollingInterval', { min: 1 }) ?? KEDA_DEFAULTS.pollingIntervalSeconds;
  const cooldownPeriodSeconds =
    reader.integer(spec['cooldownPeriod'], 'spec.cooldownPeriod', { min: 0 }) ?? KEDA_DEFAULTS.cooldownPeriodSeconds;
  const initialCooldownPeriodSeconds =
    reader.integer(spec['initialCooldownPeriod'], 'spec.initialCooldownPeriod', { min: 0 }) ?? KEDA_DEFAULTS.initialCooldownPeriodSeconds;
  const minReplicaCount = reader.integer(spec['minReplicaCount'], 'spec.minReplicaCount', { min: 0 }) ?? KEDA_DEFAULTS.minReplicaCount;
  const maxReplicaCount = reader.integer(spec['maxReplicaCount'], 'spec.maxReplicaCount', { min: 1 }) ?? KEDA_DEFAULTS.maxReplicaCount;
  if (minReplicaCount > maxReplicaCount) {
    reader.invalid('spec.minReplicaCount', `must be <= maxReplicaCount (${maxReplicaCount}), got ${minReplicaCount}`);
  }
  const idleReplicaCount = reader.integer(spec['idleReplicaCount'], 'spec.idleReplicaCount', { min: 0 }) ?? null;
  if (idleReplicaCount !== null) {
    if (idleReplicaCount >= minReplicaCount) {
      reader.invalid('spec.idleReplicaCount', `must be < minReplicaCount (${minReplicaCount}), got ${idleReplicaCount}`);
    } else if (idleReplicaCount !== 0) {
      reader.warn('spec.idleReplicaCount', 'KEDA documents only 0 as working; the HPA raises anything below minReplicas back to it');
    }
  }

  if (spec['fallback'] !== undefined) reader.unsupported('spec.fallback', 'fallback replicas on scaler errors are not modelled');

  const advanced = reader.object(spec['advanced'], 'spec.advanced', false) ?? {};
  if (advanced['scalingModifiers'] !== undefined) {
    reader.unsupported('spec.advanced.scalingModifiers', 'composite metrics (formula) are not modelled');
  }
  const hpaConfig = reader.object(advanced['horizontalPodAutoscalerConfig'], 'spec.advanced.horizontalPodAutoscalerConfig', false) ?? {};
  const hpaName = reader.string(hpaConfig['name'], 'spec.advanced.horizontalPodAutoscalerConfig.name', false) ?? `keda-hpa-${name}`;
  const behavior = parseBehavior(reader, hpaConfig['behavior'], 'spec.advanced.horizontalPodAutoscalerConfig.behavior');

  const triggers = parseTriggers(reader, spec['triggers'], 'spec.triggers', 'ScaledObject');
  if (reader.issues.length > 0) fail(reader, 'ScaledObject', name);

  return {
    spec: {
      kind: 'ScaledObject',
      name,
      namespace,
      scaleTargetRef,
      pollingIntervalSeconds,
      cooldownPeriodSeconds,
      initialCooldownPeriodSeconds,
      minReplicaCount,
      maxReplicaCount,
      idleReplicaCount,
      hpa: { name: hpaName, minReplicas: minReplicaCount > 0 ? minReplicaCount : 1, maxReplicas: maxReplicaCount, behavior },
      triggers,
    },
    warnings: reader.warnings,
  };
}

function parseBehavior(reader: ManifestReader, value: unknown, path: string): HpaBehavior | null {
  const behavior = reader.object(value, path, false);
  if (behavior === undefined) return null;
  // Any `behavior` switches the HPA to the behaviour path; unset parts take the API defaults.
  return {
    scaleUp: parseRules(reader, behavior['scaleUp'], `${path}.scaleUp`, HPA_BEHAVIOR_DEFAULTS.scaleUp),
    scaleDown: parseRules(reader, behavior['scaleDown'], `${path}.scaleDown`, HPA_BEHAVIOR_DEFAULTS.scaleDown),
  };
}

function parseRules(reader: ManifestReader, value: unknown, path: string, defaults: HpaScalingRules): HpaScalingRules {
  const rules = reader.object(value, path, false);
  if (rules === undefined) return defaults;
  const stabilizationWindowSeconds =
    reader.integer(rules['stabilizationWindowSeconds'], `${path}.stabilizationWindowSeconds`, { min: 0, max: 3600 }) ??
    defaults.stabilizationWindowSeconds;
  const selectPolicy =
    reader.oneOf<SelectPolicy>(rules['selectPolicy'], `${path}.selectPolicy`, ['Max', 'Min', 'Disabled']) ?? defaults.selectPolicy;

  let policies: readonly HpaScalingPolicy[] = defaults.policies;
  const rawPolicies = rules['policies'];
  if (rawPolicies !== undefined && rawPolicies !== null) {
    if (!Array.isArray(rawPolicies)) {
      reader.invalid(`${path}.policies`, 'must be a list');
    } else if (rawPolicies.length > 0) {
      policies = rawPolicies.flatMap((raw, i) => {
        const policyPath = `${path}.policies[${i}]`;
        const policy = reader.object(raw, policyPath, true);
        if (!policy) return [];
        const type = reader.oneOf(policy['type'], `${policyPath}.type`, ['Pods', 'Percent'] as const);
        const policyValue = reader.integer(policy['value'], `${policyPath}.value`, { min: 1 });
        const periodSeconds = reader.integer(policy['periodSeconds'], `${policyPath}.periodSeconds`, { min: 1, max: 1800 });
        if (type === undefined || policyValue === undefined || periodSeconds === undefined) {
          if (type === undefined && policy['type'] === undefined) reader.invalid(`${policyPath}.type`, 'is required');
          if (policy['value'] === undefined) reader.invalid(`${policyPath}.value`, 'is required');
          if (policy['periodSeconds'] === undefined) reader.invalid(`${policyPath}.periodSeconds`, 'is required');
          return [];
        }
        return [{ type, value: policyValue, periodSeconds }];
      });
    }
  }

  let tolerance = defaults.tolerance;
  if (rules['tolerance'] !== undefined) {
    const parsed = typeof rules['tolerance'] === 'number' ? rules['tolerance'] : Number(rules['tolerance']);
    if (!Number.isFinite(parsed) || parsed < 0)
      reader.invalid(`${path}.tolerance`, `must be a non-negative quantity, got ${JSON.stringify(rules['tolerance'])}`);
    else {
      tolerance = parsed;
      reader.warn(`${path}.tolerance`, 'needs the HPAConfigurableTolerance feature gate on a real cluster');
    }
  }
  return { stabilizationWindowSeconds, selectPolicy, policies, tolerance };
}

/** Validates a ScaledJob (plain object, e.g. from YAML) and applies KEDA's defaults. */
export function parseScaledJob(manifest: unknown, options: ParseOptions = {}): Parsed<ScaledJobSpec> {
  const reader = new ManifestReader(options.allowUnsupported ?? false);
  const root = reader.object(manifest, '<root>', true) ?? {};
  const { name, namespace } = readMetadata(reader, root, 'ScaledJob');
  const spec = reader.object(root['spec'], 'spec', true) ?? {};

  reader.object(spec['jobTargetRef'], 'spec.jobTargetRef', true);
  const pollingIntervalSeconds =
    reader.integer(spec['pollingInterval'], 'spec.pollingInterval', { min: 1 }) ?? KEDA_DEFAULTS.pollingIntervalSeconds;
  // KEDA's CRD has `minimum: 1` on maxReplicaCount: the API server refuses 0.
  const explicitMax = reader.integer(spec['maxReplicaCount'], 'spec.maxReplicaCount', { min: 1 });
  const maxReplicaCount = explicitMax ?? KEDA_DEFAULTS.maxReplicaCount;
  let minReplicaCount = reader.integer(spec['minReplicaCount'], 'spec.minReplicaCount', { min: 0 }) ?? KEDA_DEFAULTS.minReplicaCount;
  // KEDA's ScaledJob.MinReplicaCount() and MaxReplicaCount() (apis/keda/v1alpha1/scaledjob_types.go,
  // kedacore/keda@1bcb2acae2ddda264dd10323991fb76fd0188b6c): the pool of queue-driven Jobs is
  // max − min only when maxReplicaCount is set and min <= max. With min > max, min is lowered to max
  // and the pool is max itself (not 0); with maxReplicaCount unset the pool is the default 100, with
  // min not subtracted, and min is not lowered.
  let maxParallelJobs: number;
  if (explicitMax === undefined) {
    maxParallelJobs = KEDA_DEFAULTS.maxReplicaCount;
  } else if (minReplicaCount > explicitMax) {
    reader.warn(
      'spec.minReplicaCount',
      `is above maxReplicaCount; KEDA lowers it to ${explicitMax} and allows ${explicitMax} queue-driven Jobs on top`,
    );
    minReplicaCount = explicitMax;
    maxParallelJobs = explicitMax;
  } else {
    maxParallelJobs = explicitMax - minReplicaCount;
  }
  const successfulJobsHistoryLimit =
    reader.integer(spec['successfulJobsHistoryLimit'], 'spec.successfulJobsHistoryLimit', { min: 0 }) ??
    KEDA_DEFAULTS.successfulJobsHistoryLimit;
  const failedJobsHistoryLimit =
    reader.integer(spec['failedJobsHistoryLimit'], 'spec.failedJobsHistoryLimit', { min: 0 }) ?? KEDA_DEFAULTS.failedJobsHistoryLimit;

  const strategyObject = reader.object(spec['scalingStrategy'], 'spec.scalingStrategy', false) ?? {};
  let strategy =
    reader.oneOf<ScaledJobStrategy>(strategyObject['strategy'], 'spec.scalingStrategy.strategy', [
      'default',
      'custom',
      'accurate',
      'eager',
    ]) ?? 'default';
  const multipleScalersCalculation =
    reader.oneOf<MultipleScalersCalculation>(
      strategyObject['multipleScalersCalculation'],
      'spec.scalingStrategy.multipleScalersCalculation',
      ['max', 'min', 'avg', 'sum'],
    ) ?? 'max';
  const customScalingQueueLengthDeduction =
    reader.integer(strategyObject['customScalingQueueLengthDeduction'], 'spec.scalingStrategy.customScalingQueueLengthDeduction') ?? 0;
  // A string in the CRD, parsed with ParseFloat at every poll; KEDA silently runs `default` when it fails.
  const rawPercentage = strategyObject['customScalingRunningJobPercentage'];
  const percentage =
    typeof rawPercentage === 'number'
      ? rawPercentage
      : typeof rawPercentage === 'string' && rawPercentage.trim() === rawPercentage && rawPercentage !== ''
        ? Number(rawPercentage)
        : Number.NaN;
  let customScalingRunningJobPercentage = 0;
  if (strategy === 'custom') {
    if (Number.isFinite(percentage)) customScalingRunningJobPercentage = percentage;
    else {
      reader.warn(
        'spec.scalingStrategy.customScalingRunningJobPercentage',
        `${JSON.stringify(rawPercentage ?? '')} is not a number: KEDA silently falls back to strategy default`,
      );
      strategy = 'default';
    }
    if (strategyObject['customScalingQueueLengthDeduction'] === undefined) {
      reader.warn('spec.scalingStrategy.customScalingQueueLengthDeduction', 'is unset with strategy custom; using 0');
    }
  }
  const rawConditions = strategyObject['pendingPodConditions'];
  let pendingPodConditions: string[] = [];
  if (rawConditions !== undefined && rawConditions !== null) {
    if (!Array.isArray(rawConditions) || rawConditions.some((c) => typeof c !== 'string')) {
      reader.invalid('spec.scalingStrategy.pendingPodConditions', 'must be a list of pod condition types');
    } else pendingPodConditions = rawConditions as string[];
  }

  const triggers = parseTriggers(reader, spec['triggers'], 'spec.triggers', 'ScaledJob');
  if (reader.issues.length > 0) fail(reader, 'ScaledJob', name);

  return {
    spec: {
      kind: 'ScaledJob',
      name,
      namespace,
      pollingIntervalSeconds,
      minReplicaCount,
      maxReplicaCount,
      maxParallelJobs,
      successfulJobsHistoryLimit,
      failedJobsHistoryLimit,
      scalingStrategy: {
        strategy,
        customScalingQueueLengthDeduction,
        customScalingRunningJobPercentage,
        multipleScalersCalculation,
        pendingPodConditions,
      },
      triggers,
    },
    warnings: reader.warnings,
  };
}

/** Parses one KEDA object by its `kind`. */
export function parseKedaManifest(manifest: unknown, options: ParseOptions = {}): ParsedKedaObject {
  const kind = typeof manifest === 'object' && manifest !== null ? (manifest as Record<string, unknown>)['kind'] : undefined;
  if (kind === 'ScaledObject') return parseScaledObject(manifest, options);
  if (kind === 'ScaledJob') return parseScaledJob(manifest, options);
  throw new ManifestError(String(kind ?? '<no kind>'), [
    { path: 'kind', message: 'must be ScaledObject or ScaledJob', unsupported: false },
  ]);
}

/**
 * Parses every ScaledObject and ScaledJob in a multi-document YAML text (e.g. `kustomize build` output),
 * skipping other kinds. YAML syntax errors are reported as invalid manifests.
 */
export function parseKedaYaml(text: string, options: ParseOptions = {}): ParsedKedaObject[] {
  const results: ParsedKedaObject[] = [];
  parseAllDocuments(text).forEach((document, index) => {
    if (document.errors.length > 0) {
      const issues = document.errors.map((error) => ({ path: `document[${index}]`, message: error.message, unsupported: false }));
      throw new ManifestError(`document[${index}]`, issues);
    }
    const value: unknown = document.toJS();
    if (typeof value !== 'object' || value === null) return;
    const kind = (value as Record<string, unknown>)['kind'];
    if (kind === 'ScaledObject' || kind === 'ScaledJob') results.push(parseKedaManifest(value, options));
  });
  return results;
}
