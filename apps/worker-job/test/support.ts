import path from 'node:path';
import { spawnWorker, tempDirs, uniqueQueue, type WorkerProcess } from '@surge/testing';

export const appDir = path.resolve(import.meta.dirname, '..');

const scratch = tempDirs('surge-worker-job');
export const tempDir = scratch.make;
export const removeTempDirs = scratch.removeAll;
export { uniqueQueue };

export function runJob(env: Record<string, string>): WorkerProcess {
  return spawnWorker({ cwd: appDir, env: { LOG_LEVEL: 'debug', ...env } });
}

/** Runs one job to its end; resolves with its exit code, the final log line and stderr. */
export async function runJobToEnd(
  env: Record<string, string>,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; reason: unknown; stderr: string; job: WorkerProcess }> {
  const job = runJob(env);
  const { code, signal } = await job.exited;
  const final = job.logs.find((l) => l.msg === 'worker-job finished' || l.msg === 'worker-job failed');
  return { code, signal, reason: final?.reason, stderr: job.stderr(), job };
}
