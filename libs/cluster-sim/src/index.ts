export { EventQueue, VirtualClock } from './event-queue.ts';
export { Prng, samplePercentiles, type PercentileDistribution } from './prng.ts';
export { VM_SIZES, type VmSize } from './vm-sizes.ts';
export { SimError, type SimErrorCode } from './errors.ts';
export { DEFAULT_PROFILE, parseProfile, readProfileFile, applySets, type Profile } from './profile.ts';
export {
  renderOverlay,
  readWorkload,
  readWorkloads,
  readDeployments,
  cpuMilli,
  memoryMiB,
  type SimPodTemplate,
  type SimWorkload,
  type SimDeployment,
} from './manifests.ts';
export { simulate, WAIT_REASONS, type SimulationInput, type SimulationResult, type ClusterSample, type WaitReason } from './simulate.ts';
export { simulationReport, writeSimulation } from './report.ts';
