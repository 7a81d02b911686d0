/**
 * Running Surge's apps as real processes for cross-app checks: from source (`src/main.ts`) or from
 * an image-like folder (`main.js` + node_modules), on a free loopback port, with a clean
 * environment. Processes come from `@surge/testing`'s `spawnWorker`, which also kills any left
 * running when the test process exits.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sleep } from '@surge/core';
import { freeLoopbackPorts, spawnWorker, type WorkerProcess } from '@surge/testing';
import { appDir } from './paths.ts';

export const HTTP_APPS = ['producer', 'worker-deployment', 'exporter'] as const;
export type HttpApp = (typeof HTTP_APPS)[number];
export const IMAGE_APPS = ['producer', 'worker-deployment', 'exporter', 'worker-job'] as const;
export type ImageApp = (typeof IMAGE_APPS)[number];

export class AppStartError extends Error {
  readonly code = 'E2E_APP_DID_NOT_START';
  readonly retryable = false;
}

export interface RunningApp {
  app: string;
  process: WorkerProcess;
  /** `http://127.0.0.1:<port>`; undefined for an app without HTTP. */
  url: string | undefined;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. Idempotent. */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface StartAppOptions {
  app: string;
  /** Folder to run in; default the app's folder. */
  cwd?: string;
  /** Script relative to `cwd`; default `src/main.ts`. */
  script?: string;
  env: Record<string, string>;
  /** Serve HTTP on a free loopback port (sets HOST and PORT) and wait for `/livez` 200. Default true. */
  http?: boolean;
  startTimeoutMs?: number;
}

/** A temp folder outside the repository, removed by `remove()`. */
export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

let queueCounter = 0;
/** A queue name no other test run uses. */
export function uniqueQueueName(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${++queueCounter}`;
}

export async function startApp(options: StartAppOptions): Promise<RunningApp> {
  const serveHttp = options.http ?? true;
  const port = serveHttp ? (await freeLoopbackPorts(1))[0]! : undefined;
  const env = { LOG_LEVEL: 'warn', ...options.env, ...(port === undefined ? {} : { HOST: '127.0.0.1', PORT: String(port) }) };
  const child = spawnWorker({ cwd: options.cwd ?? appDir(options.app), script: options.script ?? 'src/main.ts', env });
  const stop = async (graceMs = 10_000) => {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    try {
      return await child.exited;
    } finally {
      clearTimeout(timer);
    }
  };
  const running: RunningApp = { app: options.app, process: child, url: port === undefined ? undefined : `http://127.0.0.1:${port}`, stop };
  if (running.url !== undefined) {
    try {
      await waitForLivez(running, options.startTimeoutMs ?? 30_000);
    } catch (error) {
      await stop(1_000);
      throw error;
    }
  }
  return running;
}

/** Polls `/livez` until it answers 200; fails at once if the process exits. */
export async function waitForLivez(app: RunningApp, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  void app.process.exited.then((e) => (exited = e));
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (exited)
      throw new AppStartError(
        `${app.app} exited (code ${exited.code}, signal ${exited.signal}) before /livez answered; stderr: ${app.process.stderr().trim().slice(-800)}`,
      );
    try {
      const response = await fetch(`${app.url}/livez`, { signal: AbortSignal.timeout(2_000) });
      if (response.status === 200) return;
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await sleep(100);
  }
  throw new AppStartError(
    `${app.app}: /livez did not answer 200 within ${timeoutMs} ms (last: ${last}); stderr: ${app.process.stderr().trim().slice(-800)}`,
  );
}

export async function scrape(app: RunningApp): Promise<string> {
  const response = await fetch(`${app.url}/metrics`, { signal: AbortSignal.timeout(10_000) });
  if (response.status !== 200) throw new Error(`${app.app}: GET /metrics answered ${response.status}`);
  return response.text();
}

/** Polls until `check` is true; the error names `what`. */
export async function waitUntil(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}
