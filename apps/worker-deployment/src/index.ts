export { WorkerDeployment, type WorkerDeploymentOptions, type StopSummary } from './app.ts';
export { createWorkerMetrics, type WorkerMetrics } from './metrics.ts';
export { loadConfig, type DeploymentConfig } from './config.ts';
