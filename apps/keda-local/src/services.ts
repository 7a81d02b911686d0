/**
 * The long-running apps of a demo — producer and exporter — as child processes, and the command line
 * of every Surge app keda-local starts: the built bundle (`dist/main.js`) when there is one, else the
 * TypeScript entry point (Node 24 runs it directly).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { SurgeError, sleep } from '@surge/core';
import type { PodInfo, ProcessSpec, Supervisor } from '@surge/supervisor';
import { REPO_ROOT } from './config.ts';

export class ServiceError extends SurgeError {
  constructor(message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super('SERVICE_START_FAILED', message, { retryable: options.retryable ?? false, cause: options.cause });
  }
}

export type SurgeApp = 'producer' | 'exporter' | 'worker-job' | 'worker-deployment';

/** `node dist/main.js` when the app is built, else `node src/main.ts`. */
export function appCommand(app: SurgeApp): { command: string; args: string[]; cwd: string } {
  const cwd = path.join(REPO_ROOT, 'apps', app);
  const built = path.join(cwd, 'dist', 'main.js');
  return { command: process.execPath, args: [existsSync(built) ? built : path.join(cwd, 'src', 'main.ts')], cwd };
}

export function appAvailable(app: SurgeApp): boolean {
  const { args } = appCommand(app);
  return existsSync(args[0] as string);
}

/** A free loopback port (bound, then released: the child binds it a moment later). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new ServiceError('no free loopback port');
  return address.port;
}

export interface RunningService {
  readonly name: SurgeApp;
  readonly url: string;
  readonly pod: PodInfo;
}

export interface StartServiceOptions {
  readonly supervisor: Supervisor;
  readonly app: SurgeApp;
  readonly env: Record<string, string>;
  readonly logFile: string;
  readonly graceMs: number;
  readonly readyTimeoutMs?: number;
}

/** Starts an HTTP app on a free loopback port and resolves once its /readyz answers 200. */
export async function startService(options: StartServiceOptions): Promise<RunningService> {
  const port = await freePort();
  const spec: ProcessSpec = {
    ...appCommand(options.app),
    env: { ...options.env, HOST: '127.0.0.1', PORT: String(port) },
    logFile: options.logFile,
    terminationGraceMs: options.graceMs,
  };
  const pod = options.supervisor.create(options.app, spec);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  for (;;) {
    const state = options.supervisor.get(pod.name);
    if (state && (state.phase === 'Failed' || state.phase === 'Succeeded')) {
      throw new ServiceError(`${options.app} exited during start-up (code ${String(state.exitCode)}); see ${options.logFile}`);
    }
    try {
      const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) });
      await response.body?.cancel();
      if (response.ok) return { name: options.app, url, pod };
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline)
      throw new ServiceError(`${options.app} was not ready within ${options.readyTimeoutMs ?? 60_000} ms; see ${options.logFile}`, {
        retryable: true,
      });
    await sleep(150);
  }
}

export function randomToken(): string {
  return randomBytes(24).toString('base64url');
}
