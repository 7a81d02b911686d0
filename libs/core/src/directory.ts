/**
 * Creates a folder the app is configured to use, or says in one line why it cannot. Node's
 * recursive mkdir never returns under /proc (the kernel answers ENOENT for a parent that exists, and
 * Node retries that parent for ever): the synchronous form blocks the event loop so not even SIGTERM
 * is handled, the asynchronous one spins a thread-pool thread. So the path is walked one component
 * at a time with plain mkdir calls — at most one call per component, whatever the kernel answers —
 * and the walk is bounded in time (a hung network mount must not hold start-up either).
 */
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from './errors.ts';
import { withTimeout } from './time.ts';

export interface EnsureDirectoryOptions {
  /** The variable the folder came from, named in the error. */
  variable: string;
  /** Bound on the whole walk. Default 10 s. */
  timeoutMs?: number;
}

/** Resolves once `dir` exists as a folder; throws a ConfigError naming `variable` otherwise. */
export async function ensureDirectory(dir: string, options: EnsureDirectoryOptions): Promise<void> {
  const absolute = path.resolve(dir);
  // Kernel pseudo-filesystems hold no data that survives the process; refusing them up front gives a
  // clearer line than whatever error the kernel picks.
  for (const pseudo of ['/proc', '/sys']) {
    if (absolute === pseudo || absolute.startsWith(`${pseudo}/`))
      throw new ConfigError(options.variable, `a folder outside ${pseudo} (a kernel pseudo-filesystem)`, dir);
  }
  try {
    await withTimeout(walk(absolute), options.timeoutMs ?? 10_000, `creating ${dir}`);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOTDIR' || code === 'EEXIST'
        ? 'a path whose parts are folders'
        : `a folder it can create (${code ?? (cause as Error).message})`;
    throw new ConfigError(options.variable, reason, dir);
  }
}

async function walk(absolute: string): Promise<void> {
  const parts: string[] = [];
  for (let current = absolute; ; current = path.dirname(current)) {
    parts.unshift(current);
    if (path.dirname(current) === current) break;
  }
  for (const part of parts) {
    try {
      await mkdir(part);
    } catch (error) {
      // EEXIST, or EACCES/EPERM on a parent that exists but is not ours: fine if it is a folder.
      const info = await stat(part).catch(() => undefined);
      if (info?.isDirectory()) continue;
      if (info) throw Object.assign(new Error(`${part} is not a folder`), { code: 'ENOTDIR' });
      throw error;
    }
  }
}
