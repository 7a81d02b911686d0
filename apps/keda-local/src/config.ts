/**
 * keda-local's configuration: the only module that reads `process.env`. Commands and flags come from
 * argv; the queue and results settings from the environment names every app shares (`QUEUE_KIND`,
 * `RABBITMQ_URL`, …), so the demo can run against the same broker the other apps are pointed at.
 * A bad value stops the process with one line naming the flag or variable (exit code 2).
 */
import path from 'node:path';
import { ConfigError, readEnum, readInteger, readOptionalString, type Env } from '@surge/core';
import { QUEUE_KINDS, queueConfigFromEnv, type QueueConfig, type QueueKind } from '@surge/queue-adapters';
import { resultsConfigFromEnv, type ResultsConfig } from '@surge/results';
import { LOG_LEVELS, type LogLevel } from '@surge/telemetry';

export const MODES = ['job', 'deployment', 'both'] as const;
export type Mode = (typeof MODES)[number];

/** The repository root, found from this file (apps/keda-local/src/config.ts). */
export const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..', '..');

export interface DemoConfig {
  command: 'demo';
  count: number;
  /** Messages per second; undefined: as fast as the broker confirms. */
  rate: number | undefined;
  workMs: number;
  mode: Mode;
  backend: QueueKind;
  /** The queue as the workers, producer and exporter see it (embedded: in the run folder). */
  queue: QueueConfig;
  results: ResultsConfig;
  /** Environment passed to every child for the queue and results (QUEUE_*, RABBITMQ_*, RESULTS_*, …). */
  childEnv: Record<string, string>;
  /** The few parent variables a child process needs besides its configuration (PATH, HOME, …). */
  baseEnv: Record<string, string>;
  overlayDir: string;
  runDir: string;
  /** Seconds between HPA syncs (kube-controller-manager `--horizontal-pod-autoscaler-sync-period`). */
  hpaSyncSeconds: number;
  /** Messages each Job process takes (its RECEIVE_COUNT). */
  jobBatch: number;
  jobReceiveWaitMs: number;
  /** worker-deployment CONCURRENCY. */
  concurrency: number;
  drainTimeoutMs: number;
  /** Overrides the pod templates' terminationGracePeriodSeconds when set. */
  graceSeconds: number | undefined;
  podStartDelayMs: number;
  /** Node model: K pods per node, T ms to provision; undefined: unlimited capacity. */
  nodes: { podsPerNode: number; provisionMs: number; initialNodes: number } | undefined;
  /** Random SIGKILL of a running worker every N ms (chaos); 0: off. */
  chaosKillEveryMs: number;
  timeoutSeconds: number;
  /** Worker log level: `info` keeps the lines worth reading in the pod logs (duplicates are counted from the outcome files). */
  workerLogLevel: LogLevel;
  logLevel: LogLevel;
  /** Live progress: `auto` = a redrawn line on a TTY, plain lines otherwise. */
  progress: 'auto' | 'tty' | 'plain' | 'off';
  /** Seconds between plain progress lines. */
  progressEverySeconds: number;
}

export interface ReportFromRunConfig {
  command: 'report';
  from: string;
  out: string;
}

export interface ReportFromPrometheusConfig {
  command: 'report-prometheus';
  prometheusUrl: string;
  start: number;
  end: number;
  stepSeconds: number | undefined;
  namespace: string;
  queue: string;
  deployment: string | null;
  scaledJob: string | null;
  out: string;
  /** `PROMETHEUS_BEARER_TOKEN` (managed Prometheus); never logged. */
  bearerToken: string | undefined;
}

export interface ReportCompareConfig {
  command: 'report-compare';
  /** report.json files (or run folders), in the order given: the first is the baseline. */
  files: string[];
  /** One per file when given; otherwise each run is labelled by its workloads and queue. */
  labels: string[];
  out: string;
}

export interface HelpConfig {
  command: 'help';
}

export type Config = DemoConfig | ReportFromRunConfig | ReportFromPrometheusConfig | ReportCompareConfig | HelpConfig;

export const USAGE = `keda-local — KEDA's decision rules over real worker processes, on one machine

Usage:
  keda-local [demo] [--count 2000] [--rate <msg/s>] [--work-ms 100] [--mode job|deployment|both]
                    [--backend embedded|rabbitmq] [--overlay <dir>] [--out <run dir>]
                    [--hpa-sync-seconds 15] [--job-batch 50] [--concurrency 4]
                    [--pod-start-delay-ms 0] [--node-pods K --node-provision-seconds T [--initial-nodes 0]]
                    [--chaos-kill-every-ms 0] [--timeout-seconds 600] [--progress auto|tty|plain|off]
  keda-local report --from <run dir> [--out <dir>]
  keda-local report --prometheus <url> --start <time> --end <time> --namespace <ns> --queue <name>
                    [--step <s>] [--deployment worker-deployment|none] [--scaled-job worker-job|none] [--out <dir>]
  keda-local report --compare <a>/report.json <b>/report.json [more…] [--label A --label B …] [--out <dir>]

Environment: QUEUE_KIND, QUEUE_NAME, RABBITMQ_URL, RABBITMQ_MANAGEMENT_URL, RESULTS_KIND, RESULTS_DIR,
EMBEDDED_QUEUE_LEASE_MS, LOG_LEVEL, PROMETHEUS_BEARER_TOKEN (see apps/keda-local/README.md).`;

type Flags = Map<string, string>;

const BOOLEAN_FLAGS = new Set(['help']);
/** Flags that may repeat; `--compare` also takes every value that follows it up to the next flag. */
const LIST_FLAGS = new Set(['compare', 'label']);

export function parseArgs(argv: readonly string[]): { command: string; flags: Flags; lists: Map<string, string[]> } {
  const flags: Flags = new Map();
  const lists = new Map<string, string[]>();
  const add = (name: string, value: string) => {
    flags.set(name, value);
    if (LIST_FLAGS.has(name)) lists.set(name, [...(lists.get(name) ?? []), value]);
  };
  let command: string | undefined;
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] as string;
    if (arg === '-h') {
      flags.set('help', 'true');
      continue;
    }
    if (!arg.startsWith('--')) {
      if (command !== undefined) throw new ConfigError(arg, 'one command (demo or report)', JSON.stringify(arg));
      command = arg;
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    if (eq >= 0) add(name, arg.slice(eq + 1));
    else if (BOOLEAN_FLAGS.has(name)) flags.set(name, 'true');
    else {
      const value = argv[i + 1];
      if (value === undefined || value.startsWith('--')) throw new ConfigError(`--${name}`, 'a value');
      add(name, value);
      i += 1;
      if (name === 'compare') {
        for (; i + 1 < argv.length && !(argv[i + 1] as string).startsWith('-'); i += 1) add(name, argv[i + 1] as string);
      }
    }
  }
  return { command: command ?? 'demo', flags, lists };
}

/** Flags are read with the env readers: `--work-ms` is looked up as `work-ms` in the flag map. */
function flagEnv(flags: Flags): Env {
  return Object.fromEntries([...flags].map(([k, v]) => [`--${k}`, v]));
}

function checkKnown(flags: Flags, known: readonly string[]): void {
  for (const name of flags.keys()) {
    if (!known.includes(name)) throw new ConfigError(`--${name}`, `one of the flags ${known.map((k) => `--${k}`).join(', ')}`);
  }
}

function readTime(value: string | undefined, name: string, now: number): number {
  if (value === undefined) throw new ConfigError(name, 'a time: RFC 3339, epoch seconds, or now-<N>m / now-<N>s');
  const relative = /^now(?:-(\d+)([smh]))?$/.exec(value);
  if (relative) {
    const amount = Number(relative[1] ?? 0);
    const unit = { s: 1000, m: 60_000, h: 3600_000 }[(relative[2] ?? 's') as 's' | 'm' | 'h'];
    return now - amount * unit;
  }
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
  const parsed = Date.parse(value);
  if (Number.isNaN(parsed)) throw new ConfigError(name, 'a time: RFC 3339, epoch seconds, or now-<N>m / now-<N>s', JSON.stringify(value));
  return parsed;
}

export function timestampFolder(now: Date): string {
  return now
    .toISOString()
    .replace(/[:]/g, '-')
    .replace(/\.\d+Z$/, 'Z');
}

const DEMO_FLAGS = [
  'count',
  'rate',
  'work-ms',
  'mode',
  'backend',
  'overlay',
  'out',
  'hpa-sync-seconds',
  'job-batch',
  'job-receive-wait-ms',
  'concurrency',
  'drain-timeout-ms',
  'grace-seconds',
  'pod-start-delay-ms',
  'node-pods',
  'node-provision-seconds',
  'initial-nodes',
  'chaos-kill-every-ms',
  'timeout-seconds',
  'progress',
  'progress-every-seconds',
  'help',
];

export function loadConfig(argv: readonly string[] = process.argv.slice(2), env: Env = process.env, now = new Date()): Config {
  const { command, flags, lists } = parseArgs(argv);
  if (flags.has('help') || command === 'help') return { command: 'help' };
  // npm sets INIT_CWD to where the user typed `npm run demo`: runs land in that folder's .surge/.
  const baseDir = readOptionalString(env, 'INIT_CWD') ?? process.cwd();
  const f = flagEnv(flags);

  if (command === 'report') {
    if (flags.has('compare')) {
      checkKnown(flags, ['compare', 'label', 'out']);
      const files = (lists.get('compare') ?? []).map((f) => path.resolve(baseDir, f));
      if (files.length < 2) throw new ConfigError('--compare', 'two or more report.json files (or run folders) after it');
      const labels = lists.get('label') ?? [];
      if (labels.length > 0 && labels.length !== files.length)
        throw new ConfigError('--label', `one --label per compared run (${files.length}), in the same order`, `${labels.length}`);
      if (labels.some((l) => l.trim() === '')) throw new ConfigError('--label', 'a non-empty label');
      return {
        command: 'report-compare',
        files,
        labels,
        out: path.resolve(baseDir, flags.get('out') ?? path.join('.surge', 'reports', `compare-${timestampFolder(now)}`)),
      };
    }
    if (lists.has('label')) throw new ConfigError('--label', 'to be given with --compare');
    if (flags.has('from')) {
      checkKnown(flags, ['from', 'out']);
      const from = path.resolve(baseDir, flags.get('from') as string);
      return { command: 'report', from, out: path.resolve(baseDir, flags.get('out') ?? from) };
    }
    if (!flags.has('prometheus'))
      throw new ConfigError('report', 'one of --from <run dir>, --prometheus <url> or --compare <report.json>…');
    checkKnown(flags, ['prometheus', 'start', 'end', 'step', 'namespace', 'queue', 'deployment', 'scaled-job', 'out']);
    let url: URL;
    try {
      url = new URL(flags.get('prometheus') as string);
    } catch {
      throw new ConfigError('--prometheus', 'an http(s) URL of the Prometheus server');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new ConfigError('--prometheus', 'an http(s) URL of the Prometheus server');
    const nowMs = now.getTime();
    const start = readTime(flags.get('start'), '--start', nowMs);
    const end = readTime(flags.get('end') ?? 'now', '--end', nowMs);
    if (end <= start) throw new ConfigError('--end', 'a time after --start');
    const namespace = flags.get('namespace');
    const queue = flags.get('queue');
    if (!namespace) throw new ConfigError('--namespace', 'the namespace of the workers (kube-state-metrics label)');
    if (!queue) throw new ConfigError('--queue', "the queue name (the exporter's queue label)");
    // `none` leaves a workload out: a run with only a ScaledJob (or only a ScaledObject) on its queue.
    const optionalName = (name: string, fallback: string, what: string) => {
      const value = flags.get(name) ?? fallback;
      if (value === 'none') return null;
      if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(value))
        throw new ConfigError(`--${name}`, `the ${what} name (a Kubernetes object name) or none`, JSON.stringify(value));
      return value;
    };
    const deployment = optionalName('deployment', 'worker-deployment', "ScaledObject's Deployment");
    const scaledJob = optionalName('scaled-job', 'worker-job', 'ScaledJob');
    if (deployment === null && scaledJob === null)
      throw new ConfigError('--deployment', 'a Deployment name when --scaled-job is none (a report needs one workload)', 'none');
    return {
      command: 'report-prometheus',
      prometheusUrl: url.toString(),
      start,
      end,
      stepSeconds: flags.has('step') ? readInteger(f, '--step', { min: 1, max: 3600 }) : undefined,
      namespace,
      queue,
      deployment,
      scaledJob,
      out: path.resolve(baseDir, flags.get('out') ?? path.join('.surge', 'reports', timestampFolder(now))),
      bearerToken: readOptionalString(env, 'PROMETHEUS_BEARER_TOKEN'),
    };
  }

  if (command !== 'demo') throw new ConfigError('command', 'demo or report', JSON.stringify(command));
  checkKnown(flags, DEMO_FLAGS);
  const backend = readEnum(
    f,
    '--backend',
    QUEUE_KINDS.filter((k) => k !== 'servicebus'),
    readEnum(env, 'QUEUE_KIND', QUEUE_KINDS, 'embedded') === 'rabbitmq' ? 'rabbitmq' : 'embedded',
  );
  const runDir = path.resolve(baseDir, flags.get('out') ?? path.join('.surge', 'runs', timestampFolder(now)));

  // The children get the shared variables; location-specific ones default into the run folder so a
  // run starts from an empty queue and result store and leaves everything it made in one place.
  const childEnv: Record<string, string> = {};
  const passThrough = [
    'QUEUE_NAME',
    'QUEUE_MAX_DELIVERIES',
    'QUEUE_MAX_PROCESSING_MS',
    'RABBITMQ_URL',
    'RABBITMQ_MANAGEMENT_URL',
    'RABBITMQ_PREFETCH',
    'RESULTS_KIND',
    'RESULTS_DIR',
    'AZURE_STORAGE_CONNECTION_STRING',
    'AZURE_STORAGE_ACCOUNT_URL',
    'RESULTS_CONTAINER',
    'OTEL_EXPORTER_OTLP_ENDPOINT',
  ];
  for (const name of passThrough) {
    const value = readOptionalString(env, name);
    if (value !== undefined) childEnv[name] = value;
  }
  childEnv['QUEUE_KIND'] = backend;
  if (backend === 'embedded') {
    childEnv['EMBEDDED_QUEUE_DIR'] = path.join(runDir, 'queue');
    // Short leases: a SIGKILLed worker's messages come back within seconds, not the 30 s default.
    childEnv['EMBEDDED_QUEUE_LEASE_MS'] = String(readInteger(env, 'EMBEDDED_QUEUE_LEASE_MS', { fallback: 5000, min: 200, max: 3600_000 }));
  }
  childEnv['RESULTS_KIND'] ??= 'local';
  if (childEnv['RESULTS_KIND'] === 'local') childEnv['RESULTS_DIR'] ??= path.join(runDir, 'results');
  const queue = queueConfigFromEnv(childEnv, { cwd: baseDir });
  const results = resultsConfigFromEnv(childEnv, { cwd: baseDir });

  const nodePods = flags.has('node-pods') ? readInteger(f, '--node-pods', { min: 1, max: 1000 }) : undefined;
  const provisionSeconds = flags.has('node-provision-seconds')
    ? readInteger(f, '--node-provision-seconds', { min: 0, max: 3600 })
    : undefined;
  if ((nodePods === undefined) !== (provisionSeconds === undefined))
    throw new ConfigError('--node-pods', 'to be given together with --node-provision-seconds');
  const progress = readEnum(f, '--progress', ['auto', 'tty', 'plain', 'off'] as const, 'auto');
  const rate = flags.has('rate') ? Number(flags.get('rate')) : undefined;
  if (rate !== undefined && !(rate > 0 && rate <= 100_000))
    throw new ConfigError('--rate', 'messages per second, above 0 and at most 100000', JSON.stringify(flags.get('rate')));

  const baseEnv: Record<string, string> = {};
  for (const name of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ']) {
    const value = readOptionalString(env, name);
    if (value !== undefined) baseEnv[name] = value;
  }

  return {
    command: 'demo',
    baseEnv,
    count: readInteger(f, '--count', { fallback: 2000, min: 1, max: 1_000_000 }),
    rate,
    workMs: readInteger(f, '--work-ms', { fallback: 100, min: 0, max: 60_000 }),
    mode: readEnum(f, '--mode', MODES, 'both'),
    backend,
    queue,
    results,
    childEnv,
    overlayDir: path.resolve(baseDir, flags.get('overlay') ?? path.join(REPO_ROOT, 'deploy', 'kustomize', 'overlays', 'local')),
    runDir,
    hpaSyncSeconds: readInteger(f, '--hpa-sync-seconds', { fallback: 15, min: 1, max: 600 }),
    jobBatch: readInteger(f, '--job-batch', { fallback: 50, min: 1, max: 256 }),
    jobReceiveWaitMs: readInteger(f, '--job-receive-wait-ms', { fallback: 1000, min: 0, max: 60_000 }),
    concurrency: readInteger(f, '--concurrency', { fallback: 4, min: 1, max: 256 }),
    drainTimeoutMs: readInteger(f, '--drain-timeout-ms', { fallback: 5000, min: 0, max: 600_000 }),
    graceSeconds: flags.has('grace-seconds') ? readInteger(f, '--grace-seconds', { min: 0, max: 3600 }) : undefined,
    podStartDelayMs: readInteger(f, '--pod-start-delay-ms', { fallback: 0, min: 0, max: 600_000 }),
    nodes:
      nodePods === undefined
        ? undefined
        : {
            podsPerNode: nodePods,
            provisionMs: (provisionSeconds ?? 0) * 1000,
            initialNodes: readInteger(f, '--initial-nodes', { fallback: 0, min: 0, max: 1000 }),
          },
    chaosKillEveryMs: readInteger(f, '--chaos-kill-every-ms', { fallback: 0, min: 0, max: 3600_000 }),
    timeoutSeconds: readInteger(f, '--timeout-seconds', { fallback: 600, min: 10, max: 86_400 }),
    workerLogLevel: 'info',
    logLevel: readEnum(env, 'LOG_LEVEL', LOG_LEVELS, 'info'),
    progress,
    progressEverySeconds: readInteger(f, '--progress-every-seconds', { fallback: 2, min: 1, max: 3600 }),
  };
}
