/** Shared pieces of the producer's tests: real queues in temp folders, captured logs, draining. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { decodeWorkMessage, type LoadStatus } from '@surge/contracts';
import { createQueueClient, type QueueClient, type QueueConfig } from '@surge/queue-adapters';
import { createLogger, type Logger } from '@surge/telemetry';
import { createRegistry } from '@surge/metrics';
import { buildApp, type ProducerApp, type ProducerAppConfig } from '../src/app.ts';

export const TOKEN = 'test-token-0123456789abcdef';

export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

let counter = 0;
export function uniqueQueueName(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${++counter}`;
}

export function embeddedConfig(dir: string, queue = uniqueQueueName('producer')): QueueConfig {
  return { kind: 'embedded', queue, dir, leaseMs: 30_000, maxDeliveries: 5, maxProcessingMs: 60_000 };
}

export function rabbitConfig(url: string, queue = uniqueQueueName('producer')): QueueConfig {
  // No management URL: depth comes from a passive declare, exact at once (management stats lag).
  return { kind: 'rabbitmq', queue, url, managementUrl: undefined, prefetch: 500, maxDeliveries: 5, maxProcessingMs: 60_000 };
}

/** A pino logger whose JSON lines land in `lines`. */
export function captureLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  return { logger: createLogger({ name: 'producer', level: 'info', destination }), lines };
}

export const appConfig = (overrides: Partial<ProducerAppConfig> = {}): ProducerAppConfig => ({
  token: TOKEN,
  maxConcurrentLoads: 4,
  batchSize: 100,
  bodyLimitBytes: 65536,
  sendRetryMs: 30_000,
  ...overrides,
});

export async function makeApp(
  queue: QueueClient,
  overrides: Partial<ProducerAppConfig> = {},
): Promise<ProducerApp & { lines: Record<string, unknown>[] }> {
  const { logger, lines } = captureLogger();
  const app = await buildApp({
    config: appConfig(overrides),
    queue,
    logger,
    registry: createRegistry({ app: 'producer', defaultMetrics: false }),
  });
  await app.http.ready();
  return Object.assign(app, { lines });
}

export const auth = { authorization: `Bearer ${TOKEN}` };

export async function postLoad(app: ProducerApp, body: unknown): Promise<{ loadId: string; statusUrl: string }> {
  const response = await app.http.inject({ method: 'POST', url: '/load', headers: auth, payload: body as object });
  if (response.statusCode !== 202) throw new Error(`POST /load answered ${response.statusCode}: ${response.body}`);
  return response.json();
}

export async function statusOf(app: ProducerApp, loadId: string): Promise<LoadStatus> {
  return (await app.http.inject({ method: 'GET', url: `/load/${loadId}`, headers: auth })).json();
}

/** Polls GET /load/:id until the load has ended. */
export async function waitForEnd(app: ProducerApp, loadId: string, onPoll?: (status: LoadStatus) => void): Promise<LoadStatus> {
  for (;;) {
    const status = await statusOf(app, loadId);
    onPoll?.(status);
    if (status.state !== 'pending' && status.state !== 'running') return status;
    await new Promise((r) => setTimeout(r, 25));
  }
}

export async function waitUntil(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Receives and completes everything on the queue; returns message ids and seqs (and the load ids seen). */
export async function drain(queue: QueueClient): Promise<{ ids: string[]; seqs: number[]; loadIds: Set<string> }> {
  const ids: string[] = [];
  const seqs: number[] = [];
  const loadIds = new Set<string>();
  for (;;) {
    const batch = await queue.receive(500, 300);
    if (batch.length === 0) return { ids, seqs, loadIds };
    for (const delivery of batch) {
      const decoded = decodeWorkMessage(delivery.body);
      if (!decoded.ok) throw new Error(`a message failed validation: ${JSON.stringify(decoded.errors)}`);
      if (decoded.value.id !== delivery.id) throw new Error('transport id differs from the message id');
      ids.push(decoded.value.id);
      seqs.push(decoded.value.seq);
      loadIds.add(decoded.value.loadId);
    }
    await Promise.all(batch.map((d) => d.complete()));
  }
}

export async function openQueue(config: QueueConfig): Promise<QueueClient> {
  return createQueueClient(config);
}

export const appDir = path.resolve(import.meta.dirname, '..');

export interface SpawnedProducer {
  child: import('node:child_process').ChildProcess;
  lines: Record<string, unknown>[];
  stderr: () => string;
  /** Resolves with `http://127.0.0.1:port` once the producer listens. */
  ready: Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs `src/main.ts` as a real process with only the given environment (plus PATH). */
export async function spawnProducer(env: Record<string, string>): Promise<SpawnedProducer> {
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, ['src/main.ts'], {
    cwd: appDir,
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  let stderr = '';
  let buffer = '';
  let resolveReady: (address: string) => void = () => {};
  const ready = new Promise<string>((resolve) => (resolveReady = resolve));
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    let newline: number;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const text = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      if (!text.trim()) continue;
      const line = JSON.parse(text) as Record<string, unknown>;
      lines.push(line);
      if (line.msg === 'producer ready') resolveReady(String(line.address));
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, lines, stderr: () => stderr, ready, exited };
}
