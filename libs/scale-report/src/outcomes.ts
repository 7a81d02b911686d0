/**
 * The workers' outcome files (OUTCOMES_DIR: one `*.jsonl` per worker process, one line per delivery,
 * `{"messageId","outcome","write"}`, written by `@surge/processing`), summed for the accounting: a
 * line with `write: "duplicate"` is a result write that found the message's result already stored.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface OutcomeSummary {
  /** Delivery reports read. */
  readonly reports: number;
  /** Result writes that found the result already stored (a redelivery whose first result was kept). */
  readonly duplicates: number;
  /** Result writes that stored a new result. */
  readonly written: number;
  /** Lines that were not an outcome record (none unless a file was damaged). */
  readonly unreadable: number;
}

/** Reads every `*.jsonl` file of `dir`; a missing folder is no outcomes at all. */
export function readOutcomeFiles(dir: string): OutcomeSummary {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.jsonl'));
  } catch {
    return { reports: 0, duplicates: 0, written: 0, unreadable: 0 };
  }
  let reports = 0;
  let duplicates = 0;
  let written = 0;
  let unreadable = 0;
  for (const name of files) {
    for (const line of readFileSync(path.join(dir, name), 'utf8').split('\n')) {
      if (line === '') continue;
      let record: { messageId?: unknown; outcome?: unknown; write?: unknown };
      try {
        record = JSON.parse(line) as typeof record;
      } catch {
        unreadable += 1;
        continue;
      }
      if (typeof record.messageId !== 'string' || typeof record.outcome !== 'string') {
        unreadable += 1;
        continue;
      }
      reports += 1;
      if (record.write === 'duplicate') duplicates += 1;
      else if (record.write === 'written') written += 1;
    }
  }
  return { reports, duplicates, written, unreadable };
}
