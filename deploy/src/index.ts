export { KUSTOMIZE_ROOT, REPO_ROOT, RenderError, kustomizationsUnder, parseManifests, renderKustomization, type K8sObject } from './render.ts';
export { describe, kedaCrdDir, loadCrdValidators, strictStructuralSchema, validateWithCrds, validateWithModels, type CrdValidators, type SchemaIssue } from './schemas.ts';
export {
  checkAll,
  checkImages,
  checkNoPlaintextSecrets,
  checkPods,
  checkScalers,
  checkSourceImagesBare,
  formatIssues,
  podTemplateOf,
  resolveEnv,
  triggerQueue,
  type Violation,
} from './invariants.ts';
export { checkDockerfile, parseDockerfile, type Instruction } from './dockerfile.ts';
