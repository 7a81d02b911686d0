/**
 * The processing outcome of every delivery, one JSON line each, for whoever runs the workers and
 * must count what happened (keda-local's accounting: duplicates). A file per process, written with a
 * synchronous append the moment a delivery's report exists, so a one-shot Job that exits right after
 * its last message — or is SIGKILLed later — leaves every finished report on disk; a metric scraped
 * from a pod that has already exited would miss it.
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '@surge/core';
import type { ProcessingObserver, ProcessingReport } from './processor.ts';

/** One line of an outcome file (read back by `@surge/scale-report`'s `readOutcomeFiles`). */
export interface OutcomeRecord {
  readonly messageId: string;
  readonly outcome: ProcessingReport['outcome'];
  /** Set when a result write was attempted and succeeded: `duplicate` = a result was already stored. */
  readonly write?: ProcessingReport['write'];
}

export interface OutcomeFileObserver extends ProcessingObserver {
  readonly file: string;
  close(): void;
}

/**
 * Appends each finished report to `<dir>/<instance>.<pid>.jsonl` (the pid keeps two processes with
 * the same instance name apart). One `write` per line on an O_APPEND descriptor: a line is whole or absent.
 * A folder that cannot be created or written is a `ConfigError` naming OUTCOMES_DIR.
 */
export function outcomeFileObserver(dir: string, instance: string): OutcomeFileObserver {
  const file = path.join(dir, `${instance.replace(/[^A-Za-z0-9._-]/g, '_')}.${process.pid}.jsonl`);
  let fd: number | undefined;
  try {
    mkdirSync(dir, { recursive: true });
    fd = openSync(file, 'a');
  } catch (error) {
    throw new ConfigError(
      'OUTCOMES_DIR',
      'a folder this process can write',
      `${JSON.stringify(dir)} (${(error as NodeJS.ErrnoException).code ?? 'unwritable'})`,
    );
  }
  return {
    file,
    finished(report) {
      if (fd === undefined) return;
      const record: OutcomeRecord =
        report.write === undefined
          ? { messageId: report.messageId, outcome: report.outcome }
          : { messageId: report.messageId, outcome: report.outcome, write: report.write };
      writeSync(fd, `${JSON.stringify(record)}\n`);
    },
    close() {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}

/** Runs both observers (metrics and an outcome file, say). */
export function combineObservers(...observers: readonly (ProcessingObserver | undefined)[]): ProcessingObserver {
  const present = observers.filter((o): o is ProcessingObserver => o !== undefined);
  return {
    started: (delivery) => present.forEach((o) => o.started?.(delivery)),
    finished: (report, delivery) => present.forEach((o) => o.finished?.(report, delivery)),
  };
}
