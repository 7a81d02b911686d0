/**
 * Helpers for tests and benchmarks that run the worker apps as real processes: build work
 * messages, spawn an app's `src/main.ts` (or its built bundle) with a clean environment, collect
 * its JSON log lines, and wait for it to exit. Every spawned process is tracked and killed when
 * the test process exits, so a failed test never leaves workers behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { encodeWorkMessage, type WorkMessage, type WorkSpec } from '@surge/contracts';

export interface WorkMessagesOptions {
  loadId: string;
  count: number;
  work?: Partial<WorkSpec>;
  /** First `seq`; default 0. */
  startSeq?: number;
}

/** Valid work messages and their queue form (transport id = message id), ready for a queue client's `send`. */
export function workMessages(options: WorkMessagesOptions): { messages: WorkMessage[]; outgoing: { id: string; body: Uint8Array }[] } {
  const work: WorkSpec = { durationMs: 0, mode: 'wait', failureProbability: 0, ...options.work };
  const messages = Array.from({ length: options.count }, (_, i): WorkMessage => ({
    version: 1,
    id: randomUUID(),
    loadId: options.loadId,
    seq: (options.startSeq ?? 0) + i,
    createdAt: new Date().toISOString(),
    work,
  }));
  return { messages, outgoing: messages.map((m) => ({ id: m.id, body: encodeWorkMessage(m) })) };
}

export interface LogLine {
  level?: string;
  msg?: string;
  messageId?: string;
  [key: string]: unknown;
}

export interface WorkerProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Parsed JSON lines from stdout so far (non-JSON lines are kept as `{ msg: line }`). */
  readonly logs: LogLine[];
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Resolves with the exit code (or the signal) once the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves once a log line matches. Rejects if the process exits first. */
  waitForLog(match: (line: LogLine) => boolean): Promise<LogLine>;
  kill(signal?: NodeJS.Signals): void;
}

export interface SpawnWorkerOptions {
  /** The app folder (`apps/worker-job`). */
  cwd: string;
  /** The script to run, relative to `cwd`; default `src/main.ts`. */
  script?: string;
  /** The app's environment; PATH and HOME are added, nothing else is inherited. */
  env: Record<string, string>;
  /** Share Node's compile cache between spawns (default true); benchmarks of a cold start turn it off. */
  compileCache?: boolean;
  /** Runs the script through this wrapper (e.g. `['/usr/bin/time', '-f', '%M']`) instead of Node directly. */
  wrapper?: readonly string[];
}

/**
 * Node's on-disk compile cache, shared by every worker a test run spawns: hundreds of one-message
 * processes stop paying to strip and compile the same TypeScript and packages again.
 */
const COMPILE_CACHE_DIR = path.join(os.tmpdir(), 'surge-test-compile-cache');

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

export function spawnWorker(options: SpawnWorkerOptions): WorkerProcess {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const child of live) child.kill('SIGKILL');
    });
  }
  const base = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp' };
  const cache = options.compileCache === false ? {} : { NODE_COMPILE_CACHE: COMPILE_CACHE_DIR };
  const argv = [...(options.wrapper ?? []), process.execPath, options.script ?? 'src/main.ts'];
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: options.cwd,
    env: { ...base, ...cache, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  const logs: LogLine[] = [];
  const waiters = new Set<{ match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }>();
  let stderr = '';
  let partial = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const text of lines) {
      if (!text.trim()) continue;
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        line = { msg: text };
      }
      logs.push(line);
      for (const waiter of waiters) {
        if (waiter.match(line)) {
          waiters.delete(waiter);
          waiter.resolve(line);
        }
      }
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
  });
  return {
    child,
    pid: child.pid!,
    logs,
    stderr: () => stderr,
    exited,
    waitForLog(match) {
      const found = logs.find(match);
      if (found) return Promise.resolve(found);
      return new Promise<LogLine>((resolve, reject) => {
        const waiter = { match, resolve };
        waiters.add(waiter);
        void exited.then(({ code, signal }) => {
          if (waiters.delete(waiter))
            reject(
              new Error(
                `worker exited (code ${code}, signal ${signal}) before the expected log line; stderr: ${stderr.trim().slice(-500)}`,
              ),
            );
        });
      });
    },
    kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}

/** Runs `count` tasks with at most `concurrency` at once; resolves with their results in order. */
export async function runPool<T>(count: number, concurrency: number, task: (index: number) => Promise<T>): Promise<T[]> {
  const results = new Array<T>(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const index = next++;
        results[index] = await task(index);
      }
    }),
  );
  return results;
}
