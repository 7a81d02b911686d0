/** Per-test scratch space: unique queue names and temp folders removed in one call at the end. */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function uniqueQueue(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export interface TempDirs {
  /** A new empty folder under the OS temp dir. */
  make(): string;
  /** Removes every folder `make` returned. */
  removeAll(): void;
}

export function tempDirs(prefix: string): TempDirs {
  const made: string[] = [];
  return {
    make() {
      const dir = mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
      made.push(dir);
      return dir;
    },
    removeAll() {
      for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
    },
  };
}
