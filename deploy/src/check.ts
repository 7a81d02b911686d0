/**
 * Every manifest check in one call, as the tests and `npm run check-manifests` run them:
 * schemas (Kubernetes 1.36 and KEDA v2.20 CRDs, unknown fields rejected), trigger metadata and
 * TriggerAuthentication parameters per scaler, probe and Service ports, sentinels, and the Surge
 * invariants (queues, targets, hardening, secrets, images, KEDA hygiene).
 */
import { checkAll } from './invariants.ts';
import { checkProbePorts, checkServicePorts } from './ports.ts';
import type { Problem } from './problems.ts';
import type { K8sObject } from './render.ts';
import { checkTriggerParameters } from './scalers.ts';
import { loadCrdValidators, validateSchemas, type CrdValidators } from './schemas.ts';
import { checkSentinels } from './sentinels.ts';

export interface CheckOptions {
  /** tokens an unreplaced overlay declares (its sentinels.env); without them any sentinel is a problem */
  sentinels?: readonly string[];
  /** where those tokens were declared, for messages */
  sentinelsFile?: string;
  crds?: CrdValidators;
}

let kedaCrds: Promise<CrdValidators> | undefined;

export async function checkManifests(objects: K8sObject[], options: CheckOptions = {}): Promise<Problem[]> {
  // compiling the ScaledJob CRD (a full JobSpec) is the slow part: once per process
  const crds = options.crds ?? (await (kedaCrds ??= loadCrdValidators()));
  const out: Problem[] = [];
  for (const obj of objects) out.push(...(await validateSchemas(obj, crds)));
  out.push(...checkTriggerParameters(objects));
  out.push(...checkProbePorts(objects), ...checkServicePorts(objects));
  out.push(...checkSentinels(objects, options.sentinels, options.sentinelsFile));
  out.push(...checkAll(objects));
  return out;
}
