import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { QueueError, type QueueClient, type QueueDepth } from '@surge/queue-adapters';
import { createLogger } from '@surge/telemetry';
import { buildApp, type ExporterApp, type ExporterAppConfig, type ExporterAppOptions } from '../src/app.ts';

export const appDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** A logger that keeps its JSON lines in memory, so tests can check what was (and was not) logged. */
export function memoryLogger() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger({ name: 'exporter', level: 'debug', destination }), lines };
}

/** A QueueClient whose depth the test sets (a number triple, or an error to throw), counting calls. */
export function scriptedQueue(queue: string, depth: QueueDepth | Error = { ready: 0, inFlight: 0, deadLettered: 0 }, delayMs = 20) {
  const state = { depth, calls: 0 };
  const client = {
    kind: 'embedded',
    queue,
    async depth() {
      state.calls++;
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      if (state.depth instanceof Error) throw state.depth;
      return { ...state.depth };
    },
    async close() {},
  } as unknown as QueueClient;
  return { client, state };
}

export const brokerDown = () => new QueueError('UNAVAILABLE', 'connect ECONNREFUSED 127.0.0.1:5672');

export const baseConfig: ExporterAppConfig = {
  nginxStatusUrls: [],
  nginxTimeoutMs: 2_000,
  constLabels: {},
  queues: ['work'],
  depthCacheMs: 5_000,
  depthTimeoutMs: 2_000,
  metricsApiToken: undefined,
  metricsApiKey: undefined,
};

export async function startApp(
  options: Omit<Partial<ExporterAppOptions>, 'config'> & { config?: Partial<ExporterAppConfig> },
): Promise<ExporterApp & { url: string }> {
  const app = await buildApp({
    logger: options.logger ?? memoryLogger().logger,
    openClient: options.openClient ?? (async (queue) => scriptedQueue(queue).client),
    processMetrics: options.processMetrics ?? false,
    ...options,
    config: { ...baseConfig, ...options.config },
  });
  await app.http.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.http.server.address() as { port: number }).port;
  return Object.assign(app, { url: `http://127.0.0.1:${port}` });
}

/** The value of one sample line (`name{labels} value`) in a /metrics text, or undefined when absent. */
export function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

export interface ExporterProcess {
  child: ChildProcess;
  url: string;
  output: () => string;
  /** SIGTERM, then resolves with the exit code and how long the exit took. */
  terminate(): Promise<{ code: number | null; ms: number }>;
}

/** Spawns the real exporter (`node src/main.ts`) and resolves once it logs "exporter ready". */
export async function spawnExporter(env: Record<string, string>): Promise<ExporterProcess> {
  const child = spawn(process.execPath, ['src/main.ts'], {
    cwd: appDir,
    // Only what the test sets, plus PATH: never inherit a developer's broker settings.
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // A test that times out must not leave the exporter running.
  const onExit = () => child.kill('SIGKILL');
  process.once('exit', onExit);
  child.once('exit', () => process.off('exit', onExit));
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`exporter did not become ready: ${output}`)), 30_000);
    const check = () => {
      for (const line of output.split('\n')) {
        if (!line.includes('"exporter ready"')) continue;
        clearTimeout(timer);
        child.stdout!.off('data', check);
        return resolve((JSON.parse(line) as { port: number }).port);
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exporter exited with ${code} before ready: ${output}`));
    });
  });
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    output: () => output,
    terminate: async () => {
      if (child.exitCode !== null) return { code: child.exitCode, ms: 0 };
      const started = Date.now();
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(kill);
      return { code, ms: Date.now() - started };
    },
  };
}
