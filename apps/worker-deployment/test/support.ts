import path from 'node:path';
import { spawnWorker, tempDirs, uniqueQueue, type LogLine, type WorkerProcess } from '@surge/testing';
import type { ResultSink } from '@surge/results';

export const appDir = path.resolve(import.meta.dirname, '..');

const scratch = tempDirs('surge-worker-deployment');
export const tempDir = scratch.make;
export const removeTempDirs = scratch.removeAll;
export { uniqueQueue };

export interface Deployment {
  proc: WorkerProcess;
  /** Resolves with the ops port once the server listens. */
  port: Promise<number>;
  metrics(): Promise<string>;
}

export function startDeployment(env: Record<string, string>): Deployment {
  const proc = spawnWorker({ cwd: appDir, env: { HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'debug', ...env } });
  const port = proc.waitForLog((l) => l.msg === 'ops server listening').then((l) => l.port as number);
  port.catch(() => {});
  return {
    proc,
    port,
    metrics: async () => (await fetch(`http://127.0.0.1:${await port}/metrics`)).text(),
  };
}

/** Sum of a metric's samples (optionally those whose labels contain `labels`) in Prometheus text. */
export function metricSum(text: string, name: string, labels = ''): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (!(rest.startsWith(' ') || rest.startsWith('{'))) continue;
    if (labels && !rest.includes(labels)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

export async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 240_000, everyMs = 250): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface WriteAccounting {
  /** message id → the instance whose write stored the result, from `processed` lines with write=written. */
  writers: Map<string, LogLine[]>;
  duplicates: number;
}

/** What every worker said about its writes (debug `processed` lines). */
export function accountWrites(procs: readonly WorkerProcess[]): WriteAccounting {
  const writers = new Map<string, LogLine[]>();
  let duplicates = 0;
  for (const proc of procs) {
    for (const line of proc.logs) {
      if (line.msg !== 'processed' || typeof line.messageId !== 'string') continue;
      if (line.write === 'written') writers.set(line.messageId, [...(writers.get(line.messageId) ?? []), line]);
      else if (line.write === 'duplicate') duplicates++;
    }
  }
  return { writers, duplicates };
}

/**
 * The end-to-end invariants of at-least-once with idempotent results: every message has exactly
 * one stored result, no result was written twice (overwritten), and where the writer's log line
 * survived, the stored content is that writer's.
 */
export async function checkResults(
  sink: ResultSink,
  loadId: string,
  ids: readonly string[],
  accounting: WriteAccounting,
): Promise<{ stored: number; verifiedWriters: number }> {
  const keys = await sink.list(loadId);
  const stored = new Set(keys.map((k) => k.messageId));
  if (keys.length !== stored.size) throw new Error('a result name appears twice');
  const missing = ids.filter((id) => !stored.has(id));
  if (missing.length > 0) throw new Error(`${missing.length} message(s) without a result, e.g. ${missing[0]}`);
  if (stored.size !== ids.length) throw new Error(`${stored.size} results for ${ids.length} messages`);
  let verifiedWriters = 0;
  for (const [id, lines] of accounting.writers) {
    if (lines.length > 1) throw new Error(`message ${id} was written ${lines.length} times: a result was overwritten`);
    const result = await sink.read({ loadId, messageId: id });
    const line = lines[0]!;
    if (result?.worker.instance !== line.instance || result?.deliveryAttempt !== line.deliveryCount) {
      throw new Error(`stored result of ${id} is not the one its writer (${String(line.instance)}) logged`);
    }
    verifiedWriters++;
  }
  return { stored: stored.size, verifiedWriters };
}
