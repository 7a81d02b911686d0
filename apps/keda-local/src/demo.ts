/**
 * The demo: producer, exporter and workers as real processes; KEDA's and the HPA's decisions from
 * `@surge/scaling` every polling interval; a timeline, a decision log and, at the end, the report.
 * `runDemo` is wiring: the services, the controllers over real processes, and the scaling engine on
 * the wall clock with its tasks (chaos, sampling with end detection, the deadline) — the same engine
 * the simulator drives on a virtual clock. No signals and no exit here — `main.ts` owns those;
 * `runDemo` resolves with the outcome.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage } from '@surge/core';
import { createQueueClient, isQueueError, type QueueClient } from '@surge/queue-adapters';
import { createResultSink, type ResultSink } from '@surge/results';
import { TimelineRecorder, buildReport, writeReport, type ScaleReport, type WorkloadKind } from '@surge/scale-report';
import { ScalingEngine, Supervisor, wallClock, type Decision, type EngineTask, type PodInfo } from '@surge/supervisor';
import type { Logger } from '@surge/telemetry';
import { readRunAccounts } from './accounts.ts';
import { ChaosKiller } from './chaos.ts';
import type { DemoConfig } from './config.ts';
import { readOverlay } from './manifests.ts';
import { ProducerClient } from './producer-client.ts';
import { createProgress } from './progress.ts';
import { RunEndDetector, type RunEnd } from './run-end.ts';
import { RunSampler } from './sampler.ts';
import { appAvailable, randomToken, startService, type RunningService, type SurgeApp } from './services.ts';
import { createTriggerReader } from './triggers.ts';
import { createWorkloads } from './workloads.ts';

export interface DemoDeps {
  readonly logger: Logger;
  /** Where live progress goes (process.stdout in main). */
  readonly out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Aborts the run (SIGINT): the report is still written. */
  readonly signal?: AbortSignal;
}

export interface DemoOutcome {
  readonly ok: boolean;
  readonly reason: string;
  readonly runDir: string;
  readonly report: ScaleReport;
  readonly files: { html: string; json: string; csv: string; decisions: string };
}

const TICK_MS = 250;
const SAMPLE_MS = 1000;

export async function runDemo(config: DemoConfig, deps: DemoDeps): Promise<DemoOutcome> {
  const { logger } = deps;
  await mkdir(config.runDir, { recursive: true });
  const overlay = readOverlay(config.overlayDir);
  for (const warning of overlay.warnings) logger.warn({ warning }, 'overlay');
  checkRunnable(config, overlay);

  const decisionsFile = path.join(config.runDir, 'decisions.jsonl');
  const decisions: WriteStream = createWriteStream(decisionsFile, { flags: 'w' });
  const queueName = config.queue.queue;
  const outcomesDir = path.join(config.runDir, 'outcomes');
  await mkdir(outcomesDir, { recursive: true });
  // OUTCOMES_DIR: each worker appends every delivery's outcome there; the accounting counts duplicates from it.
  const childEnv = {
    ...config.baseEnv,
    ...config.childEnv,
    QUEUE_NAME: queueName,
    LOG_LEVEL: config.workerLogLevel,
    OUTCOMES_DIR: outcomesDir,
  };

  let queue: QueueClient | undefined;
  let sink: ResultSink | undefined;
  const services = new Supervisor();
  let workers: Supervisor | undefined;
  const progress = createProgress(config.progress, deps.out, config.progressEverySeconds * 1000);

  try {
    queue = await createQueueClient(config.queue, { logger });
    sink = await createResultSink(config.results, { logger });
    await warnIfNotEmpty(queue, logger);
    const { exporter, producer, token } = await startDemoServices(services, childEnv, queueName, config.runDir);
    logger.info({ exporter: exporter.url, producer: producer.url }, 'services ready');

    const clock = wallClock;
    const startedAt = clock.now();
    const t = (at: number) => Math.round(at - startedAt) / 1000;
    const notes: string[] = [];
    const logDecision = (decision: Decision) => {
      decisions.write(`${JSON.stringify({ t: t(decision.at), ...decision })}\n`);
      noteDecision(decision, t(decision.at), notes);
    };

    workers = new Supervisor({
      podStartDelayMs: config.podStartDelayMs,
      ...(config.nodes ? { nodes: config.nodes } : {}),
      onFinished: (pod) => logPodEnd(logger, pod),
    });
    const readTriggers = createTriggerReader({ exporterUrl: exporter.url, queue: queueName, queueClient: queue });
    const workloads = createWorkloads({
      config,
      overlay,
      workers,
      readTriggers,
      log: logDecision,
      env: childEnv,
      podLogs: path.join(config.runDir, 'pods'),
      now: startedAt,
    });

    const client = new ProducerClient(producer.url, token);
    const loadId = `demo-${startedAt.toString(36)}`;
    await client.startLoad({
      loadId,
      count: config.count,
      ...(config.rate === undefined ? {} : { rate: config.rate }),
      work: { durationMs: config.workMs, mode: 'wait', failureProbability: 0 },
    });
    logger.info({ loadId, count: config.count, queue: queueName }, 'load submitted');

    const recorder = new TimelineRecorder();
    const sampler = new RunSampler({ client, loadId, queue, sink, recorder, progress, startedAt, total: config.count });
    await sampler.recordStart(workloads.names);
    const chaos = config.chaosKillEveryMs > 0 ? new ChaosKiller({ workers, everyMs: config.chaosKillEveryMs, logger }) : undefined;
    let end: RunEnd | undefined;
    const engine = new ScalingEngine({
      clock,
      tickMs: TICK_MS,
      controllers: [workloads.job, workloads.deployment].filter((c) => c !== undefined),
      tasks: [
        ...(chaos ? [chaos] : []),
        sampleTask(sampler, new RunEndDetector(), (e) => (end = e)),
        deadlineTask(startedAt + config.timeoutSeconds * 1000, `not finished within --timeout-seconds ${config.timeoutSeconds}`),
      ],
      onError: (error, source) => logger.error({ err: errorMessage(error), source }, 'controller tick failed'),
    });
    let reason = await engine.run(deps.signal);
    const endedAt = clock.now();
    progress.finish();

    await workers.shutdown();
    const finalDepth = await queue.depth().catch(() => sampler.depth);
    const accounts = await readRunAccounts({
      sink,
      queue,
      loadId,
      sent: sampler.status?.sent ?? 0,
      deadLetteredByDepth: finalDepth?.deadLettered ?? 0,
      outcomesDir,
      logger,
    });
    if (accounts.deadLetteredAfterResult > 0) {
      notes.unshift(
        `${accounts.deadLetteredAfterResult} message(s) were dead-lettered after their result had been stored (a lost ack, then redeliveries past maxDeliveries): counted as results, not dead letters`,
      );
    }
    let ok = end?.ok ?? false;
    if (ok && !accounts.ok) {
      ok = false;
      reason = `${accounts.accounting.lost} messages lost`;
    }
    const jobCounts = workloads.job ? ` · ${workloads.job.jobCounts().created} Jobs` : '';
    if (chaos && chaos.kills > 0) notes.unshift(`chaos: ${chaos.kills} workers SIGKILLed at random`);
    const report = buildReport({
      title: `Surge on keda-local — ${config.count} messages, mode ${config.mode}, ${config.backend}`,
      source: 'keda-local',
      startedAt,
      endedAt,
      workloads: workloads.names,
      workloadKinds: Object.fromEntries(
        workloads.names.map((w): [string, WorkloadKind] => [w, w === workloads.job?.workload ? 'ScaledJob' : 'ScaledObject']),
      ),
      queue: queueName,
      timeline: recorder.samples,
      latenciesMs: accounts.latenciesMs,
      accounting: accounts.accounting,
      notes,
      settings: settingsOf(config, overlay, jobCounts),
    });
    const files = await writeReport(config.runDir, report);
    return { ok, reason, runDir: config.runDir, report, files: { ...files, decisions: decisionsFile } };
  } finally {
    progress.finish();
    await workers?.shutdown().catch(() => {});
    await services.shutdown().catch(() => {});
    await Promise.allSettled([queue?.close(), sink?.close()]);
    await new Promise((resolve) => decisions.end(resolve));
  }
}

/** The overlay declares what the mode needs, and every app keda-local starts can be started. */
function checkRunnable(config: DemoConfig, overlay: ReturnType<typeof readOverlay>): void {
  const useJob = config.mode !== 'deployment';
  const useDeployment = config.mode !== 'job';
  if (useJob && !overlay.scaledJob) throw new Error(`${config.overlayDir} declares no ScaledJob (mode ${config.mode})`);
  if (useDeployment && !overlay.scaledObject) throw new Error(`${config.overlayDir} declares no ScaledObject (mode ${config.mode})`);
  const apps: SurgeApp[] = ['producer', 'exporter'];
  if (useJob) apps.push('worker-job');
  if (useDeployment) apps.push('worker-deployment');
  for (const app of apps) {
    if (!appAvailable(app)) throw new Error(`apps/${app} has no src/main.ts or dist/main.js: keda-local cannot start it`);
  }
}

async function warnIfNotEmpty(queue: QueueClient, logger: Logger): Promise<void> {
  // A broker that has not sampled a new queue yet answers "unknown" (retryable): nothing to warn about then.
  const initial = await queue.depth().catch((error: unknown) => {
    if (isQueueError(error) && error.retryable) return undefined;
    throw error;
  });
  if (initial && initial.ready + initial.inFlight > 0)
    logger.warn(
      { queue: queue.queue, ...initial },
      'the queue is not empty at start: those messages are processed too and appear in the depth',
    );
}

/** The exporter and the producer as child processes, ready, with a random producer token. */
async function startDemoServices(
  services: Supervisor,
  childEnv: Record<string, string>,
  queueName: string,
  runDir: string,
): Promise<{ exporter: RunningService; producer: RunningService; token: string }> {
  const token = randomToken();
  const [exporter, producer] = await Promise.all([
    startService({
      supervisor: services,
      app: 'exporter',
      // A 1 s depth cache: fresh enough for 2 s polling, and still single-flighted under load.
      env: { ...childEnv, EXPORTER_QUEUES: queueName, DEPTH_CACHE_MS: '1000', NGINX_STATUS_URL: '', SHUTDOWN_GRACE_MS: '5000' },
      logFile: path.join(runDir, 'exporter.log'),
      graceMs: 10_000,
    }),
    startService({
      supervisor: services,
      app: 'producer',
      env: { ...childEnv, PRODUCER_TOKEN: token, SHUTDOWN_GRACE_MS: '10000' },
      logFile: path.join(runDir, 'producer.log'),
      graceMs: 15_000,
    }),
  ]);
  return { exporter, producer, token };
}

/** Every second: sample the run, and end it when the end detector says so. */
function sampleTask(sampler: RunSampler, detector: RunEndDetector, ended: (end: RunEnd) => void): EngineTask {
  return {
    name: 'sample',
    everyMs: SAMPLE_MS,
    run: async (now, engine) => {
      await sampler.sample(now, engine.workloads());
      const end = detector.observe({ now, status: sampler.status, depth: sampler.depth, results: sampler.results, idle: engine.idle });
      if (end) {
        ended(end);
        engine.stop(end.reason);
      }
    },
  };
}

/** Ends the run past `at` (checked every tick). */
function deadlineTask(at: number, reason: string): EngineTask {
  return { name: 'deadline', everyMs: 0, run: (now, engine) => (now > at ? engine.stop(reason) : undefined) };
}

function logPodEnd(logger: Logger, pod: PodInfo): void {
  const fields = { pod: pod.name, phase: pod.phase, exitCode: pod.exitCode, signal: pod.signal, ending: pod.ending };
  if (pod.phase === 'Failed' && pod.ending === 'exited') logger.warn(fields, 'worker failed');
  else logger.debug(fields, 'worker finished');
}

/** The decisions that changed something, for the report's notes (first few of each kind). */
function noteDecision(decision: Decision, t: number, notes: string[]): void {
  if (notes.length >= 14) return;
  if (decision.kind === 'keda-poll' && decision.fromReplicas !== decision.toReplicas) {
    notes.push(
      `${t.toFixed(1)} s · KEDA ${decision.scaledObject}: ${decision.action} ${decision.fromReplicas} → ${decision.toReplicas} (${decision.reason})`,
    );
  } else if (decision.kind === 'hpa-sync' && decision.fromReplicas !== decision.toReplicas) {
    notes.push(`${t.toFixed(1)} s · HPA ${decision.hpa}: ${decision.reason}`);
  } else if (decision.kind === 'scaledjob-poll' && decision.jobsToCreate > 0 && notes.filter((n) => n.includes('ScaledJob')).length < 4) {
    notes.push(
      `${t.toFixed(1)} s · ScaledJob ${decision.scaledJob}: queue ${decision.queueLength}, ${decision.runningJobs} running → create ${decision.jobsToCreate}`,
    );
  }
}

function settingsOf(
  config: DemoConfig,
  overlay: ReturnType<typeof readOverlay>,
  jobCounts: string,
): Record<string, string | number | boolean> {
  const settings: Record<string, string | number | boolean> = {
    backend: config.backend,
    mode: config.mode,
    messages: config.count,
    'work per message': `${config.workMs} ms (wait)`,
    rate: config.rate === undefined ? 'as fast as confirmed' : `${config.rate}/s`,
  };
  if (config.mode !== 'deployment' && overlay.scaledJob) {
    const sj = overlay.scaledJob.spec;
    settings['ScaledJob'] =
      `${sj.name}: poll ${sj.pollingIntervalSeconds} s, max ${sj.maxReplicaCount}, ${sj.scalingStrategy.strategy}, target ${sj.triggers.map((x) => x.target).join('/')}${jobCounts}`;
    settings['messages per Job'] = config.jobBatch;
  }
  if (config.mode !== 'job' && overlay.scaledObject) {
    const so = overlay.scaledObject.spec;
    settings['ScaledObject'] =
      `${so.name}: poll ${so.pollingIntervalSeconds} s, cooldown ${so.cooldownPeriodSeconds} s, ${so.minReplicaCount}–${so.maxReplicaCount}, target ${so.triggers.map((x) => `${x.target} ${x.metricType}`).join('/')}`;
    settings['HPA'] = `sync ${config.hpaSyncSeconds} s, ${so.hpa.behavior ? 'behavior set' : 'default behaviour'}`;
    settings['worker CONCURRENCY'] = config.concurrency;
  }
  if (config.podStartDelayMs > 0) settings['pod start delay'] = `${config.podStartDelayMs} ms`;
  if (config.nodes)
    settings['nodes'] =
      `${config.nodes.podsPerNode} pods each, ${config.nodes.provisionMs / 1000} s to provision, ${config.nodes.initialNodes} warm`;
  if (config.chaosKillEveryMs > 0) settings['chaos'] = `SIGKILL a random worker every ${config.chaosKillEveryMs} ms`;
  return settings;
}
