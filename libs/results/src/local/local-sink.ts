/**
 * Results as files: `<dir>/<loadId>/<messageId>.json`. Several processes on one machine (keda-local,
 * tests) share the folder, and any of them may be killed at any instant.
 *
 * A write creates the final name with `O_CREAT | O_EXCL` and writes the document in one `write()`:
 * the kernel lets exactly one creator win, so a second writer gets EEXIST and never overwrites the
 * first. A result is a few hundred bytes, less than a page, so a killed writer leaves either the
 * whole document or an empty file (killed between open and write). The loser of EEXIST reads the
 * file: a valid result means duplicate; an empty or unparseable one is a writer's remains, replaced
 * atomically (temp file + rename) and reported as written. Readers treat an empty file as absent.
 * (Temp + link + unlink would hide even that instant from readers, at five system calls instead
 * of three: profiled as the largest share of a zero-work message's cost.)
 *
 * No fsync: the files outlive a killed process (page cache), and power loss on a laptop demo is not
 * worth a disk flush per message.
 *
 * The write path is synchronous on purpose: a result is a few hundred bytes going to the page
 * cache, and three async calls (open, write, close) cost more in thread-pool round trips than the
 * microseconds the event loop is held. Reads and listings stay asynchronous.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants as fsConstants,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { access, readdir, readFile } from 'node:fs/promises';
import { ensureDirectory } from '@surge/core';
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
    // A folder that cannot be created is a ConfigError naming RESULTS_DIR (and never a start-up that hangs).
    await ensureDirectory(config.dir, { variable: 'RESULTS_DIR' });
    try {
      await access(config.dir, fsConstants.W_OK);
    } catch (cause) {
      throw translateFsError(cause, `cannot use the results folder ${config.dir}`);
    }
    return new LocalResultSink(config.dir);
  }

  async writeIfAbsent(result: WorkResult): Promise<WriteOutcome> {
    this.assertOpen();
    checkResult(result);
    // Plain concatenation: both ids were just checked against the naming rule (no separators).
    const folder = `${this.dir}${path.sep}${result.loadId}`;
    const final = `${folder}${path.sep}${result.messageId}.json`;
    const document = JSON.stringify(result);
    try {
      if (!this.loadDirs.has(folder)) {
        createLoadFolder(this.dir, folder);
        this.loadDirs.add(folder);
      }
      writeNew(final, document);
      return 'written';
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'EEXIST') return this.resolveExisting(final, document, result);
      // The load folder was removed under us (a test or an operator cleaning up): create it next time.
      this.loadDirs.delete(folder);
      throw translateFsError(cause, `cannot write result ${result.loadId}/${result.messageId}`);
    }
  }

  /** The name exists: a complete result is the first writer's (duplicate); anything else is a killed writer's remains. */
  private resolveExisting(final: string, document: string, result: WorkResult): WriteOutcome {
    const name = `${result.loadId}/${result.messageId}.json`;
    try {
      parseStoredResult(readFileSync(final, { encoding: 'utf8', flag: fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW }), name);
      return 'duplicate';
    } catch (cause) {
      if (!(cause instanceof ResultError && cause.code === 'RESULTS_CORRUPT') && (cause as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw translateFsError(cause, `cannot read the existing result ${name}`);
      }
    }
    // rename() replaces atomically: readers see the remains or this document, never a mix.
    const temp = `${final}.${this.tempPrefix}.${++this.tempCounter}.tmp`;
    try {
      writeNew(temp, document);
      renameSync(temp, final);
      return 'written';
    } catch (cause) {
      try {
        unlinkSync(temp);
      } catch {
        // never created, or already renamed
      }
      throw translateFsError(cause, `cannot replace the incomplete result ${name}`);
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
    // Created but not written yet (or its writer was killed in between): not a result.
    if (text.length === 0) return undefined;
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

// O_NOFOLLOW: a result file planted as a link is never written through (O_EXCL already refuses to create over one).
const CREATE_NEW = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW;

/**
 * Results stay inside RESULTS_DIR: a load folder must be a real folder, never a link someone
 * planted there that would send writes elsewhere on the machine. lstat does not follow the link.
 * RESULTS_DIR itself may be a link: that is the operator's own choice of where results go.
 */
function createLoadFolder(root: string, folder: string, retried = false): void {
  try {
    mkdirSync(folder);
    return;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !retried) {
      // RESULTS_DIR was removed under us (an operator cleaning up): it was validated at open, so recreate it.
      mkdirSync(root, { recursive: true });
      return createLoadFolder(root, folder, true);
    }
    if (code !== 'EEXIST') throw error;
  }
  const info = lstatSync(folder);
  if (info.isDirectory()) return;
  throw new ResultError(
    'NOT_WRITABLE',
    `${folder} is ${info.isSymbolicLink() ? 'a symbolic link' : 'not a folder'}: results are written only inside the results folder, never through a link`,
  );
}

/** Creates `file` (failing with EEXIST if it exists) holding `text`: `writeFileSync(file, text, { flag: 'wx' })` without its option parsing and Buffer copy, once per message. */
function writeNew(file: string, text: string): void {
  const fd = openSync(file, CREATE_NEW, 0o666);
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

function translateFsError(cause: unknown, what: string): ResultError {
  if (cause instanceof ResultError) return cause;
  const code = (cause as NodeJS.ErrnoException).code ?? '';
  const detail = `${what}: ${(cause as Error).message}`;
  if (['EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'EISDIR', 'EEXIST', 'ELOOP'].includes(code))
    return new ResultError('NOT_WRITABLE', detail, { cause });
  if (['ENOSPC', 'EDQUOT', 'EMFILE', 'ENFILE', 'EIO', 'EBUSY', 'EAGAIN', 'ENOENT'].includes(code))
    return new ResultError('UNAVAILABLE', detail, { cause });
  return new ResultError('INTERNAL', detail, { cause });
}
