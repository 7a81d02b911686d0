/**
 * Results as files: `<dir>/<loadId>/<messageId>.json`. Several processes on one machine (keda-local,
 * tests) share the folder, and any of them may be killed at any instant, so a write is:
 *   1. write the whole document to a private temp file in the same folder;
 *   2. `link()` it to the final name — atomic, and it fails with EEXIST instead of replacing;
 *   3. remove the temp name.
 * A reader sees either no result or a complete one, and a second writer can never overwrite the
 * first. No fsync: the files outlive a killed process (page cache), and power loss on a laptop
 * demo is not worth a disk flush per message. A killed writer can leave a `.…tmp` file behind;
 * `list` ignores it.
 *
 * The write path is synchronous on purpose: a result is a few hundred bytes going to the page
 * cache, and the five async calls it would take (open, write, close, link, unlink) cost far more
 * in thread-pool round trips than the tens of microseconds the event loop is held — profiled as
 * the largest share of a zero-work message's cost. Reads and listings stay asynchronous.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsConstants, linkSync, mkdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { access, mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { WorkResult } from '@surge/contracts';
import type { LocalResultsConfig } from '../config.ts';
import { ResultError } from '../errors.ts';
import { parseResultName } from '../names.ts';
import { checkResult, parseStoredResult } from '../result-document.ts';
import type { ResultKey, ResultSink, SinkOptions, WriteOutcome } from '../types.ts';

export class LocalResultSink implements ResultSink {
  readonly kind = 'local' as const;
  readonly location: string;
  private readonly dir: string;
  private readonly loadDirs = new Set<string>();
  /** Temp names: unique per sink instance (random) and per write (counter), also across hosts sharing the folder. */
  private readonly tempPrefix = `${process.pid}.${randomBytes(6).toString('hex')}`;
  private tempCounter = 0;
  private closed = false;

  private constructor(dir: string) {
    this.dir = dir;
    this.location = dir;
  }

  /** Creates the folder and checks it is writable, so a misconfigured worker fails before it takes a message. */
  static async open(config: LocalResultsConfig, _options: SinkOptions = {}): Promise<LocalResultSink> {
    try {
      await mkdir(config.dir, { recursive: true });
      await access(config.dir, fsConstants.W_OK);
    } catch (cause) {
      throw translateFsError(cause, `cannot use the results folder ${config.dir}`);
    }
    return new LocalResultSink(config.dir);
  }

  async writeIfAbsent(result: WorkResult): Promise<WriteOutcome> {
    this.assertOpen();
    checkResult(result);
    const folder = path.join(this.dir, result.loadId);
    const final = path.join(folder, `${result.messageId}.json`);
    const temp = path.join(folder, `.${result.messageId}.${this.tempPrefix}.${++this.tempCounter}.tmp`);
    try {
      if (!this.loadDirs.has(folder)) {
        mkdirSync(folder, { recursive: true });
        this.loadDirs.add(folder);
      }
      writeFileSync(temp, JSON.stringify(result), { flag: 'wx' });
    } catch (cause) {
      // The load folder was removed under us (a test or an operator cleaning up): create it next time.
      this.loadDirs.delete(folder);
      throw translateFsError(cause, `cannot write result ${result.loadId}/${result.messageId}`);
    }
    try {
      linkSync(temp, final);
      return 'written';
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'EEXIST') return 'duplicate';
      throw translateFsError(cause, `cannot store result ${result.loadId}/${result.messageId}`);
    } finally {
      try {
        unlinkSync(temp);
      } catch {
        // Already gone; a leftover temp file is harmless (list ignores it).
      }
    }
  }

  async read(key: ResultKey): Promise<WorkResult | undefined> {
    this.assertOpen();
    let text: string;
    try {
      text = await readFile(path.join(this.dir, key.loadId, `${key.messageId}.json`), 'utf8');
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw translateFsError(cause, `cannot read result ${key.loadId}/${key.messageId}`);
    }
    return parseStoredResult(text, `${key.loadId}/${key.messageId}.json`);
  }

  async list(loadId?: string): Promise<ResultKey[]> {
    this.assertOpen();
    const loads = loadId === undefined ? await this.entries(this.dir, true) : [loadId];
    const keys: ResultKey[] = [];
    for (const load of loads) {
      for (const file of await this.entries(path.join(this.dir, load), false)) {
        const key = parseResultName(`${load}/${file}`);
        if (key) keys.push(key);
      }
    }
    return keys;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private async entries(folder: string, directories: boolean): Promise<string[]> {
    try {
      const dirents = await readdir(folder, { withFileTypes: true });
      return dirents.filter((d) => (directories ? d.isDirectory() : d.isFile())).map((d) => d.name);
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw translateFsError(cause, `cannot list ${folder}`);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new ResultError('CLOSED', 'the result sink is closed');
  }
}

function translateFsError(cause: unknown, what: string): ResultError {
  const code = (cause as NodeJS.ErrnoException).code ?? '';
  const detail = `${what}: ${(cause as Error).message}`;
  if (['EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'EISDIR', 'EEXIST'].includes(code)) return new ResultError('NOT_WRITABLE', detail, { cause });
  if (['ENOSPC', 'EDQUOT', 'EMFILE', 'ENFILE', 'EIO', 'EBUSY', 'EAGAIN', 'ENOENT'].includes(code)) return new ResultError('UNAVAILABLE', detail, { cause });
  return new ResultError('INTERNAL', detail, { cause });
}
