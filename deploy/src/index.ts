export {
  KUSTOMIZE_ROOT,
  REPO_ROOT,
  RenderError,
  kustomizationsUnder,
  parseManifests,
  renderKustomization,
  renderKustomizationText,
  type K8sObject,
} from './render.ts';
export { closest, describe, didYouMean, fieldPath, formatIssues, formatProblem, type Problem } from './problems.ts';
export {
  KEDA_CRD_DIR,
  KEDA_RELEASE_LINE,
  KUBERNETES_MINOR,
  loadCrdValidators,
  strictFieldProblems,
  strictStructuralSchema,
  validateSchemas,
  validateStrictFields,
  validateWithCrds,
  validateWithModels,
  type CrdValidators,
} from './schemas.ts';
export { KEDA_SCALER_TYPES, SCALERS, checkTriggerParameters, type ScalerParameters } from './scalers.ts';
export { checkProbePorts, checkServicePorts, podTemplates } from './ports.ts';
export {
  SENTINELS_FILE,
  SENTINEL_PREFIX,
  SentinelFileError,
  checkSentinels,
  dummyValue,
  loadSentinels,
  parseSentinels,
  replaceSentinels,
  type Sentinel,
} from './sentinels.ts';
export { checkManifests, type CheckOptions } from './check.ts';
export {
  checkAll,
  checkImages,
  checkNoPlaintextSecrets,
  checkPods,
  checkScalers,
  checkSourceImagesBare,
  podTemplateOf,
  resolveEnv,
  triggerQueue,
  type Violation,
} from './invariants.ts';
export { checkDockerfile, exposedPorts, parseDockerfile, type DockerfileCheckOptions, type Instruction } from './dockerfile.ts';
