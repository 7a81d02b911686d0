export { Supervisor, type ProcessSpec, type SupervisorEvents, type SupervisorOptions } from './supervisor.ts';
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
export type { PodRuntime, PodCounts, PodInfo, PodPhase } from './runtime.ts';
export { wallClock, sleepOn, type Clock, type CancelTimer } from './clock.ts';
export {
  ScalingEngine,
  DEFAULT_TICK_MS,
  type ScalingController,
  type ScalingEngineOptions,
  type EngineTask,
  type EngineStatus,
} from './engine.ts';
