/**
 * The demo: producer, exporter and workers as real processes; KEDA's and the HPA's decisions from
 * `@surge/scaling` every polling interval; a timeline, a decision log and, at the end, the report.
 * No signals and no exit here — `main.ts` owns those; `runDemo` resolves with the outcome.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage, sleep } from '@surge/core';
import type { LoadStatus } from '@surge/contracts';
import { createQueueClient, isQueueError, type QueueClient, type QueueDepth } from '@surge/queue-adapters';
import { createResultSink, type ResultSink } from '@surge/results';
import { TimelineRecorder, accounting, buildReport, writeReport, type ScaleReport, type WorkloadKind } from '@surge/scale-report';
import { ScaledJobController, ScaledObjectController, Supervisor, type Decision, type PodInfo, type ProcessSpec } from '@surge/supervisor';
import type { Logger } from '@surge/telemetry';
import type { DemoConfig } from './config.ts';
import { readOverlay } from './manifests.ts';
import { ProducerClient } from './producer-client.ts';
import { createProgress, type ProgressState } from './progress.ts';
import { appAvailable, appCommand, randomToken, startService, type SurgeApp } from './services.ts';
import { createTriggerReader } from './triggers.ts';

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
/** How long an empty queue with idle workloads ends a run whose results do not add up (lost messages). */
const SETTLE_MS = 30_000;

export async function runDemo(config: DemoConfig, deps: DemoDeps): Promise<DemoOutcome> {
  const { logger } = deps;
  await mkdir(config.runDir, { recursive: true });
  const overlay = readOverlay(config.overlayDir);
  for (const warning of overlay.warnings) logger.warn({ warning }, 'overlay');
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

  const decisionsFile = path.join(config.runDir, 'decisions.jsonl');
  const decisions: WriteStream = createWriteStream(decisionsFile, { flags: 'w' });
  const queueName = config.queue.queue;
  const childEnv = { ...config.baseEnv, ...config.childEnv, QUEUE_NAME: queueName, LOG_LEVEL: config.workerLogLevel };
  const podLogs = path.join(config.runDir, 'pods');

  let queue: QueueClient | undefined;
  let sink: ResultSink | undefined;
  const services = new Supervisor();
  let workers: Supervisor | undefined;
  const progress = createProgress(config.progress, deps.out, config.progressEverySeconds * 1000);

  try {
    queue = await createQueueClient(config.queue, { logger });
    sink = await createResultSink(config.results, { logger });
    // A broker that has not sampled a new queue yet answers "unknown" (retryable): nothing to warn about then.
    const initial = await queue.depth().catch((error: unknown) => {
      if (isQueueError(error) && error.retryable) return undefined;
      throw error;
    });
    if (initial && initial.ready + initial.inFlight > 0) logger.warn({ queue: queueName, ...initial }, 'the queue is not empty at start: those messages are processed too and appear in the depth');

    const token = randomToken();
    const [exporter, producer] = await Promise.all([
      startService({
        supervisor: services,
        app: 'exporter',
        // A 1 s depth cache: fresh enough for 2 s polling, and still single-flighted under load.
        env: { ...childEnv, EXPORTER_QUEUES: queueName, DEPTH_CACHE_MS: '1000', NGINX_STATUS_URL: '', SHUTDOWN_GRACE_MS: '5000' },
        logFile: path.join(config.runDir, 'exporter.log'),
        graceMs: 10_000,
      }),
      startService({
        supervisor: services,
        app: 'producer',
        env: { ...childEnv, PRODUCER_TOKEN: token, SHUTDOWN_GRACE_MS: '10000' },
        logFile: path.join(config.runDir, 'producer.log'),
        graceMs: 15_000,
      }),
    ]);
    logger.info({ exporter: exporter.url, producer: producer.url }, 'services ready');

    const startedAt = Date.now();
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
    const graceMs = (seconds: number) => (config.graceSeconds ?? seconds) * 1000;

    const jobController =
      useJob && overlay.scaledJob
        ? new ScaledJobController({
            workload: overlay.scaledJob.spec.name,
            spec: overlay.scaledJob.spec,
            backoffLimit: overlay.scaledJob.backoffLimit,
            failJobExitCodes: overlay.scaledJob.failJobExitCodes,
            supervisor: workers,
            readTriggers,
            log: logDecision,
            podSpec: (): ProcessSpec => ({
              ...appCommand('worker-job'),
              env: { ...childEnv, RECEIVE_COUNT: String(config.jobBatch), RECEIVE_WAIT_MS: String(config.jobReceiveWaitMs) },
              logFile: path.join(podLogs, '{pod}.log'),
              terminationGraceMs: graceMs(overlay.scaledJob!.pod.terminationGraceSeconds),
            }),
          })
        : undefined;
    const deploymentController =
      useDeployment && overlay.scaledObject
        ? new ScaledObjectController({
            workload: overlay.scaledObject.spec.scaleTargetRef.name,
            spec: overlay.scaledObject.spec,
            now: startedAt,
            hpa: { syncPeriodSeconds: config.hpaSyncSeconds },
            supervisor: workers,
            readTriggers,
            log: logDecision,
            podSpec: (): ProcessSpec => ({
              ...appCommand('worker-deployment'),
              // PORT 0: every pod gets its own free port for /livez, /readyz, /metrics.
              env: { ...childEnv, HOST: '127.0.0.1', PORT: '0', CONCURRENCY: String(config.concurrency), DRAIN_TIMEOUT_MS: String(config.drainTimeoutMs) },
              logFile: path.join(podLogs, '{pod}.log'),
              terminationGraceMs: graceMs(overlay.scaledObject!.pod.terminationGraceSeconds),
            }),
          })
        : undefined;
    const workloads = [jobController?.workload, deploymentController?.workload].filter((w): w is string => w !== undefined);

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
    let status: LoadStatus | undefined;
    let depth: QueueDepth | undefined = await queue.depth().catch(() => undefined);
    // The starting point: the load is submitted and no worker runs yet.
    recorder.record({
      at: startedAt,
      depth: depth === undefined ? null : depth.ready + depth.inFlight,
      ready: depth?.ready ?? null,
      inFlight: depth?.inFlight ?? null,
      deadLettered: depth?.deadLettered ?? null,
      replicas: Object.fromEntries(workloads.map((w) => [w, 0])),
      desired: Object.fromEntries(workloads.map((w) => [w, 0])),
      results: 0,
    });
    let results = 0;
    let lastSampleAt = 0;
    let lastChaosAt = Date.now();
    let kills = 0;
    const deadline = startedAt + config.timeoutSeconds * 1000;
    let reason = '';
    let ok = false;
    let quietSince: number | undefined;

    for (;;) {
      const now = Date.now();
      // KEDA's loops first: they act on what the metric says now.
      await Promise.all([jobController?.tick(now), deploymentController?.tick(now)].map((p) => p?.catch((error: unknown) => logger.error({ err: errorMessage(error) }, 'controller tick failed'))));

      if (config.chaosKillEveryMs > 0 && now - lastChaosAt >= config.chaosKillEveryMs) {
        lastChaosAt = now;
        const running = workers.active().filter((p) => p.phase === 'Running' && !p.terminating);
        const victim = running[Math.floor(Math.random() * running.length)];
        if (victim && workers.kill(victim.name)) {
          kills += 1;
          logger.warn({ pod: victim.name }, 'chaos: SIGKILL');
        }
      }

      if (now - lastSampleAt >= SAMPLE_MS) {
        lastSampleAt = now;
        const [s, d, r] = await Promise.allSettled([client.status(loadId), queue.depth(), sink.list(loadId)]);
        if (s.status === 'fulfilled') status = s.value;
        if (d.status === 'fulfilled') depth = d.value;
        if (r.status === 'fulfilled') results = r.value.length;
        const statuses = [jobController?.status(), deploymentController?.status()].filter((x) => x !== undefined);
        recorder.record({
          at: now,
          depth: d.status === 'fulfilled' ? d.value.ready + d.value.inFlight : null,
          ready: d.status === 'fulfilled' ? d.value.ready : null,
          inFlight: d.status === 'fulfilled' ? d.value.inFlight : null,
          deadLettered: d.status === 'fulfilled' ? d.value.deadLettered : null,
          replicas: Object.fromEntries(statuses.map((x) => [x.workload, x.running])),
          desired: Object.fromEntries(statuses.map((x) => [x.workload, x.desired])),
          results,
        });
        const state: ProgressState = { elapsedMs: now - startedAt, total: config.count, sent: status?.sent ?? 0, results, depth, workloads: statuses };
        progress.update(state);

        const loadEnded = status !== undefined && status.state !== 'pending' && status.state !== 'running';
        const drained = depth !== undefined && depth.ready + depth.inFlight === 0;
        const idle = (jobController?.idle ?? true) && (deploymentController?.idle ?? true);
        // Broker depth can lag (RabbitMQ's management statistics): an empty reading only ends the run once
        // every sent message is accounted for, or after it has stayed empty for the settle window.
        const accounted = status !== undefined && results + (depth?.deadLettered ?? 0) >= status.sent;
        quietSince = loadEnded && drained && idle ? (quietSince ?? now) : undefined;
        if (quietSince !== undefined && (accounted || now - quietSince >= SETTLE_MS)) {
          ok = status?.state === 'completed';
          reason = ok ? 'queue drained and every workload back to zero' : `the load ended ${status?.state}: ${status?.error ?? ''}`;
          break;
        }
      }
      if (deps.signal?.aborted) {
        reason = 'interrupted';
        break;
      }
      if (now > deadline) {
        reason = `not finished within --timeout-seconds ${config.timeoutSeconds}`;
        break;
      }
      await sleep(TICK_MS);
    }
    const endedAt = Date.now();
    progress.finish();

    await workers.shutdown();
    const finalDepth = await queue.depth().catch(() => depth);
    const keys = await sink.list(loadId);
    const distinct = new Set(keys.map((k) => k.messageId));
    const latencies = await readLatencies(sink, keys);
    const duplicates = await countDuplicates(podLogs);
    const dead = await deadLettersOf(queue, loadId, finalDepth?.deadLettered ?? 0, logger);
    // A message can be dead-lettered after its result was stored (its ack was lost and it was redelivered
    // past maxDeliveries): it is processed, not lost, and must not be subtracted twice.
    const deadWithResult = dead.ids === undefined ? 0 : dead.ids.filter((id) => distinct.has(id)).length;
    const deadLettered = dead.ids === undefined ? dead.count : dead.ids.length - deadWithResult;
    if (deadWithResult > 0) notes.unshift(`${deadWithResult} message(s) were dead-lettered after their result had been stored (a lost ack, then redeliveries past maxDeliveries): counted as results, not dead letters`);
    const acc = accounting({ sent: status?.sent ?? 0, distinctResults: distinct.size, duplicates, deadLettered });
    if (ok && acc.lost !== 0) {
      ok = false;
      reason = `${acc.lost} messages lost`;
    }
    const jobCounts = jobController ? ` · ${jobController.jobCounts().created} Jobs` : '';
    if (kills > 0) notes.unshift(`chaos: ${kills} workers SIGKILLed at random`);
    const report = buildReport({
      title: `Surge on keda-local — ${config.count} messages, mode ${config.mode}, ${config.backend}`,
      source: 'keda-local',
      startedAt,
      endedAt,
      workloads,
      workloadKinds: Object.fromEntries(workloads.map((w): [string, WorkloadKind] => [w, w === jobController?.workload ? 'ScaledJob' : 'ScaledObject'])),
      queue: queueName,
      timeline: recorder.samples,
      latenciesMs: latencies,
      accounting: acc,
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

function logPodEnd(logger: Logger, pod: PodInfo): void {
  const fields = { pod: pod.name, phase: pod.phase, exitCode: pod.exitCode, signal: pod.signal, ending: pod.ending };
  if (pod.phase === 'Failed' && pod.ending === 'exited') logger.warn(fields, 'worker failed');
  else logger.debug(fields, 'worker finished');
}

/** The decisions that changed something, for the report's notes (first few of each kind). */
function noteDecision(decision: Decision, t: number, notes: string[]): void {
  if (notes.length >= 14) return;
  if (decision.kind === 'keda-poll' && decision.fromReplicas !== decision.toReplicas) {
    notes.push(`${t.toFixed(1)} s · KEDA ${decision.scaledObject}: ${decision.action} ${decision.fromReplicas} → ${decision.toReplicas} (${decision.reason})`);
  } else if (decision.kind === 'hpa-sync' && decision.fromReplicas !== decision.toReplicas) {
    notes.push(`${t.toFixed(1)} s · HPA ${decision.hpa}: ${decision.reason}`);
  } else if (decision.kind === 'scaledjob-poll' && decision.jobsToCreate > 0 && notes.filter((n) => n.includes('ScaledJob')).length < 4) {
    notes.push(`${t.toFixed(1)} s · ScaledJob ${decision.scaledJob}: queue ${decision.queueLength}, ${decision.runningJobs} running → create ${decision.jobsToCreate}`);
  }
}

async function readLatencies(sink: ResultSink, keys: readonly { loadId: string; messageId: string }[]): Promise<number[]> {
  const latencies: number[] = [];
  // Bounded concurrency: thousands of small reads, without thousands of open files.
  for (let i = 0; i < keys.length; i += 64) {
    const batch = await Promise.all(keys.slice(i, i + 64).map((k) => sink.read(k).catch(() => undefined)));
    for (const result of batch) {
      if (result) latencies.push(Date.parse(result.finishedAt) - Date.parse(result.enqueuedAt));
    }
  }
  return latencies;
}

/**
 * The ids of this load's dead letters (bodies are work messages; other loads' dead letters in a reused
 * queue are left out). Falls back to the depth's count when the dead-letter queue cannot be read.
 */
async function deadLettersOf(queue: QueueClient, loadId: string, depthCount: number, logger: Logger): Promise<{ count: number; ids: string[] | undefined }> {
  if (depthCount === 0) return { count: 0, ids: [] };
  try {
    const letters = await queue.peekDeadLetters(Math.max(depthCount, 1) + 100);
    const ids = letters.flatMap((letter) => {
      try {
        const body = JSON.parse(letter.body.toString('utf8')) as { loadId?: unknown };
        return body.loadId === loadId ? [letter.id] : [];
      } catch {
        return [];
      }
    });
    return { count: ids.length, ids };
  } catch (error) {
    logger.warn({ err: errorMessage(error) }, 'could not read the dead-letter queue: using the depth count');
    return { count: depthCount, ids: undefined };
  }
}

/** Workers log `"write":"duplicate"` when the store already held the message's result (a redelivery). */
export async function countDuplicates(podLogDir: string): Promise<number> {
  let files: string[];
  try {
    files = await readdir(podLogDir);
  } catch {
    return 0;
  }
  let count = 0;
  for (const file of files) {
    const text = await readFile(path.join(podLogDir, file), 'utf8').catch(() => '');
    let index = text.indexOf('"write":"duplicate"');
    while (index >= 0) {
      count += 1;
      index = text.indexOf('"write":"duplicate"', index + 1);
    }
  }
  return count;
}

function settingsOf(config: DemoConfig, overlay: ReturnType<typeof readOverlay>, jobCounts: string): Record<string, string | number | boolean> {
  const settings: Record<string, string | number | boolean> = {
    backend: config.backend,
    mode: config.mode,
    messages: config.count,
    'work per message': `${config.workMs} ms (wait)`,
    rate: config.rate === undefined ? 'as fast as confirmed' : `${config.rate}/s`,
  };
  if (config.mode !== 'deployment' && overlay.scaledJob) {
    const sj = overlay.scaledJob.spec;
    settings['ScaledJob'] = `${sj.name}: poll ${sj.pollingIntervalSeconds} s, max ${sj.maxReplicaCount}, ${sj.scalingStrategy.strategy}, target ${sj.triggers.map((x) => x.target).join('/')}${jobCounts}`;
    settings['messages per Job'] = config.jobBatch;
  }
  if (config.mode !== 'job' && overlay.scaledObject) {
    const so = overlay.scaledObject.spec;
    settings['ScaledObject'] = `${so.name}: poll ${so.pollingIntervalSeconds} s, cooldown ${so.cooldownPeriodSeconds} s, ${so.minReplicaCount}–${so.maxReplicaCount}, target ${so.triggers.map((x) => `${x.target} ${x.metricType}`).join('/')}`;
    settings['HPA'] = `sync ${config.hpaSyncSeconds} s, ${so.hpa.behavior ? 'behavior set' : 'default behaviour'}`;
    settings['worker CONCURRENCY'] = config.concurrency;
  }
  if (config.podStartDelayMs > 0) settings['pod start delay'] = `${config.podStartDelayMs} ms`;
  if (config.nodes) settings['nodes'] = `${config.nodes.podsPerNode} pods each, ${config.nodes.provisionMs / 1000} s to provision, ${config.nodes.initialNodes} warm`;
  if (config.chaosKillEveryMs > 0) settings['chaos'] = `SIGKILL a random worker every ${config.chaosKillEveryMs} ms`;
  return settings;
}
