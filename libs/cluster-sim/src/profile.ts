/**
 * A profile is a target cluster's numbers: node pool, autoscaler, control-plane rate limits, image,
 * broker. Every key has a default here (the shape the YAML files must follow); a profile file and
 * `--set path=value` override leaves, and a key that is not in this shape is an error naming it.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { SimError } from './errors.ts';

export interface Profile {
  readonly name: string;
  readonly nodePool: {
    readonly vmSize: string;
    readonly minCount: number;
    readonly maxCount: number;
    readonly initialCount: number;
    readonly daemonsetCpuMilli: number;
    readonly daemonsetMemoryMiB: number;
    /** Spot evictions per node per hour (0: on-demand). */
    readonly evictionsPerNodeHour: number;
    /** Pods per node cap (kubelet max-pods). */
    readonly maxPods: number;
  };
  readonly autoscaler: {
    /** cluster-autoscaler, karpenter, virtual-node (ACI: no nodes, per-pod create quota), none. */
    readonly kind: string;
    readonly scanIntervalSeconds: number;
    /** Node request → Ready, as percentiles. */
    readonly provisionFloorSeconds: number;
    readonly provisionP50Seconds: number;
    readonly provisionP90Seconds: number;
    readonly provisionP99Seconds: number;
    readonly maxNodeProvisionSeconds: number;
    readonly scaleDownUnneededSeconds: number;
    readonly scaleDownDelayAfterAddSeconds: number;
    readonly maxEmptyBulkDelete: number;
    /** Karpenter: pods seen within this window are batched into one launch. */
    readonly batchWindowSeconds: number;
    /** Virtual node: container-group creates allowed per quota window, and the window. */
    readonly createQuota: number;
    readonly createQuotaWindowSeconds: number;
    readonly perPodStartSeconds: number;
  };
  readonly controlPlane: {
    readonly kedaQps: number;
    readonly kedaBurst: number;
    readonly schedulerQps: number;
    readonly controllerManagerQps: number;
  };
  readonly image: {
    readonly sizeMiB: number;
    readonly nodeBandwidthMiBps: number;
    readonly registryMiBps: number;
  };
  readonly pod: {
    readonly containerStartMs: number;
    readonly processStartMs: number;
    readonly workMs: number;
  };
  readonly broker: {
    /** servicebus or rabbitmq. */
    readonly kind: string;
    /** Service Bus: credits per second per namespace; RabbitMQ: messages per second. */
    readonly throughputPerSecond: number;
    readonly creditsPerMessageOp: number;
    readonly creditsPerManagementRead: number;
    readonly lockSeconds: number;
    readonly maxDeliveries: number;
  };
}

export const DEFAULT_PROFILE: Profile = {
  name: 'default',
  nodePool: {
    vmSize: 'Standard_D4ds_v5',
    minCount: 0,
    maxCount: 1000,
    initialCount: 0,
    daemonsetCpuMilli: 300,
    daemonsetMemoryMiB: 500,
    evictionsPerNodeHour: 0,
    maxPods: 110,
  },
  autoscaler: {
    kind: 'cluster-autoscaler',
    scanIntervalSeconds: 10,
    provisionFloorSeconds: 60,
    provisionP50Seconds: 76,
    provisionP90Seconds: 91,
    provisionP99Seconds: 250,
    maxNodeProvisionSeconds: 900,
    scaleDownUnneededSeconds: 600,
    scaleDownDelayAfterAddSeconds: 600,
    maxEmptyBulkDelete: 10,
    batchWindowSeconds: 10,
    createQuota: 100,
    createQuotaWindowSeconds: 300,
    perPodStartSeconds: 0,
  },
  controlPlane: { kedaQps: 20, kedaBurst: 30, schedulerQps: 50, controllerManagerQps: 20 },
  image: { sizeMiB: 200, nodeBandwidthMiBps: 100, registryMiBps: 10000 },
  pod: { containerStartMs: 1000, processStartMs: 500, workMs: 1000 },
  broker: {
    kind: 'servicebus',
    throughputPerSecond: 1000,
    creditsPerMessageOp: 1,
    creditsPerManagementRead: 10,
    lockSeconds: 60,
    maxDeliveries: 10,
  },
};

type Tree = Record<string, unknown>;

function isTree(v: unknown): v is Tree {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Copies `patch` onto `base`; every key must exist in `base` with the same type. */
function overlay(base: Tree, patch: Tree, where: string, source: string): Tree {
  const out: Tree = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    const path = where === '' ? key : `${where}.${key}`;
    if (!(key in base)) throw new SimError('PROFILE_INVALID', `${source}: unknown profile key ${path}`);
    const current = base[key];
    if (isTree(current)) {
      if (!isTree(value)) throw new SimError('PROFILE_INVALID', `${source}: ${path} must be a mapping`);
      out[key] = overlay(current, value, path, source);
    } else if (typeof value !== typeof current || (typeof value === 'number' && (!Number.isFinite(value) || value < 0))) {
      throw new SimError(
        'PROFILE_INVALID',
        `${source}: ${path} must be a ${typeof current === 'number' ? 'non-negative number' : typeof current}, got ${JSON.stringify(value)}`,
      );
    } else {
      out[key] = value;
    }
  }
  return out;
}

export function parseProfile(text: string, source: string): Profile {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (error) {
    throw new SimError('PROFILE_INVALID', `${source}: not YAML (${(error as Error).message.split('\n')[0]})`);
  }
  if (!isTree(doc)) throw new SimError('PROFILE_INVALID', `${source}: expected a mapping`);
  return overlay(DEFAULT_PROFILE as unknown as Tree, doc, '', source) as unknown as Profile;
}

export function readProfileFile(file: string): Profile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new SimError('PROFILE_INVALID', `${file}: no such profile file`);
  }
  return parseProfile(text, file);
}

/** `--set nodePool.maxCount=500`: the value is read as YAML (numbers stay numbers). */
export function applySets(profile: Profile, sets: readonly string[]): Profile {
  let result = profile as unknown as Tree;
  for (const assignment of sets) {
    const eq = assignment.indexOf('=');
    if (eq <= 0) throw new SimError('PROFILE_INVALID', `--set ${assignment}: expected path=value`);
    const keys = assignment.slice(0, eq).split('.');
    const value: unknown = parse(assignment.slice(eq + 1));
    const patch: Tree = {};
    let cursor = patch;
    keys.forEach((key, i) => {
      if (i === keys.length - 1) cursor[key] = value;
      else cursor = cursor[key] = {} as Tree;
    });
    result = overlay(result, patch, '', `--set ${assignment}`);
  }
  return result as unknown as Profile;
}
