export { Supervisor, type PodInfo, type PodPhase, type ProcessSpec, type SupervisorEvents, type SupervisorOptions } from './supervisor.ts';
export { NodePool, type NodeModel } from './nodes.ts';
export { SupervisorError, type SupervisorErrorCode } from './errors.ts';
export {
  ScaledObjectController,
  ScaledJobController,
  type Decision,
  type TriggerReader,
  type WorkloadStatus,
  type ScaledObjectControllerOptions,
  type ScaledJobControllerOptions,
} from './controllers.ts';
export type { PodRuntime, PodCounts } from './runtime.ts';
