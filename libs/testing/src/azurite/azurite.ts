/**
 * A private Azurite blob server for tests and benchmarks: the `azurite` npm package (no Docker),
 * on a free loopback port, with its data in a temp folder that `stop()` removes. Clients use the
 * emulator's well-known development account (a public, documented key — not a secret).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { sleep } from '@surge/core';
import { freeLoopbackPorts, portAnswers } from '../rabbitmq/ports.ts';

/** The emulator's fixed development account (documented by Microsoft; identical in every Azurite). */
const ACCOUNT = 'devstoreaccount1';
const ACCOUNT_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface AzuriteInstance {
  /** `http://127.0.0.1:<port>/devstoreaccount1` */
  readonly blobEndpoint: string;
  /** For `AZURE_STORAGE_CONNECTION_STRING`. */
  readonly connectionString: string;
  readonly port: number;
  /** Data folder (removed by `stop`). */
  readonly dir: string;
  /** Stops the server and removes its folder. Idempotent. */
  stop(): Promise<void>;
}

export interface StartAzuriteOptions {
  /** Start-up budget; the machine is shared. Default 30 s. */
  startTimeoutMs?: number;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A test runner that exits without calling stop() must not leave a server behind.
  process.once('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

function blobMainScript(): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve('azurite/package.json')), 'dist', 'src', 'blob', 'main.js');
}

export async function startAzurite(options: StartAzuriteOptions = {}): Promise<AzuriteInstance> {
  const budget = options.startTimeoutMs ?? 30_000;
  const deadline = Date.now() + budget;
  let lastError = 'no attempt';
  // A free port can be taken by someone else before Azurite binds it: retry with a fresh one.
  for (let attempt = 1; attempt <= 3 && Date.now() < deadline; attempt++) {
    const [port] = (await freeLoopbackPorts(1)) as [number];
    const dir = mkdtempSync(path.join(os.tmpdir(), 'surge-azurite-'));
    const child = spawn(
      process.execPath,
      [
        blobMainScript(),
        '--blobHost',
        '127.0.0.1',
        '--blobPort',
        String(port),
        '--location',
        dir,
        '--silent',
        '--skipApiVersionCheck',
        '--loose',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-2000);
    });
    live.add(child);
    installExitHook();
    let exited = false;
    child.once('exit', () => {
      exited = true;
      live.delete(child);
    });
    while (!exited && Date.now() < deadline) {
      if (await portAnswers(port)) return instance(child, port, dir);
      await sleep(100);
    }
    lastError = exited
      ? `azurite exited: ${stderr.trim() || 'no output'}`
      : `azurite did not answer on 127.0.0.1:${port} within ${budget} ms`;
    await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
  }
  throw new Error(`cannot start Azurite (npm package azurite): ${lastError}`);
}

function instance(child: ChildProcess, port: number, dir: string): AzuriteInstance {
  const blobEndpoint = `http://127.0.0.1:${port}/${ACCOUNT}`;
  let stopped: Promise<void> | undefined;
  return {
    blobEndpoint,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${ACCOUNT};AccountKey=${ACCOUNT_KEY};BlobEndpoint=${blobEndpoint};`,
    port,
    dir,
    stop: () =>
      (stopped ??= stopChild(child).then(() => {
        rmSync(dir, { recursive: true, force: true });
      })),
  };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}
