/**
 * The overlay's ScaledJob and ScaledObject as controllers over real worker processes: what each pod
 * runs (worker-job / worker-deployment with the demo's settings) and the grace period it gets.
 */
import path from 'node:path';
import {
  ScaledJobController,
  ScaledObjectController,
  type Decision,
  type ProcessSpec,
  type Supervisor,
  type TriggerReader,
} from '@surge/supervisor';
import type { DemoConfig } from './config.ts';
import type { OverlayScaling } from './manifests.ts';
import { appCommand } from './services.ts';

export interface DemoWorkloads {
  readonly job: ScaledJobController<ProcessSpec> | undefined;
  readonly deployment: ScaledObjectController<ProcessSpec> | undefined;
  /** Workload names in report order (the Job first). */
  readonly names: readonly string[];
}

export interface DemoWorkloadsOptions {
  readonly config: DemoConfig;
  readonly overlay: OverlayScaling;
  readonly workers: Supervisor;
  readonly readTriggers: TriggerReader;
  readonly log: (decision: Decision) => void;
  /** The environment every worker gets (queue, results, outcome folder, log level). */
  readonly env: Readonly<Record<string, string>>;
  /** Where each pod's stdout/stderr go. */
  readonly podLogs: string;
  /** The start of the run (the HPA's first sync). */
  readonly now: number;
}

export function createWorkloads(options: DemoWorkloadsOptions): DemoWorkloads {
  const { config, overlay, env } = options;
  const graceMs = (seconds: number) => (config.graceSeconds ?? seconds) * 1000;
  const logFile = path.join(options.podLogs, '{pod}.log');
  const sj = config.mode !== 'deployment' ? overlay.scaledJob : undefined;
  const so = config.mode !== 'job' ? overlay.scaledObject : undefined;
  const job = sj
    ? new ScaledJobController<ProcessSpec>({
        workload: sj.spec.name,
        spec: sj.spec,
        backoffLimit: sj.backoffLimit,
        failJobExitCodes: sj.failJobExitCodes,
        supervisor: options.workers,
        readTriggers: options.readTriggers,
        log: options.log,
        podSpec: () => ({
          ...appCommand('worker-job'),
          env: { ...env, RECEIVE_COUNT: String(config.jobBatch), RECEIVE_WAIT_MS: String(config.jobReceiveWaitMs) },
          logFile,
          terminationGraceMs: graceMs(sj.pod.terminationGraceSeconds),
        }),
      })
    : undefined;
  const deployment = so
    ? new ScaledObjectController<ProcessSpec>({
        workload: so.spec.scaleTargetRef.name,
        spec: so.spec,
        now: options.now,
        hpa: { syncPeriodSeconds: config.hpaSyncSeconds },
        supervisor: options.workers,
        readTriggers: options.readTriggers,
        log: options.log,
        podSpec: () => ({
          ...appCommand('worker-deployment'),
          // PORT 0: every pod gets its own free port for /livez, /readyz, /metrics.
          env: {
            ...env,
            HOST: '127.0.0.1',
            PORT: '0',
            CONCURRENCY: String(config.concurrency),
            DRAIN_TIMEOUT_MS: String(config.drainTimeoutMs),
          },
          logFile,
          terminationGraceMs: graceMs(so.pod.terminationGraceSeconds),
        }),
      })
    : undefined;
  return { job, deployment, names: [job?.workload, deployment?.workload].filter((w): w is string => w !== undefined) };
}
