import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnWorker, type WorkerProcess } from '@surge/testing';

export const appDir = path.resolve(import.meta.dirname, '..');

const dirs: string[] = [];
export function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'surge-worker-job-'));
  dirs.push(dir);
  return dir;
}
export function removeTempDirs(): void {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export function uniqueQueue(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export function runJob(env: Record<string, string>): WorkerProcess {
  return spawnWorker({ cwd: appDir, env: { LOG_LEVEL: 'debug', ...env } });
}

/** Runs one job to its end; resolves with its exit code, the final log line and stderr. */
export async function runJobToEnd(env: Record<string, string>): Promise<{ code: number | null; signal: NodeJS.Signals | null; reason: unknown; stderr: string; job: WorkerProcess }> {
  const job = runJob(env);
  const { code, signal } = await job.exited;
  const final = job.logs.find((l) => l.msg === 'worker-job finished' || l.msg === 'worker-job failed');
  return { code, signal, reason: final?.reason, stderr: job.stderr(), job };
}
