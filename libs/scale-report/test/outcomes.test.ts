import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readOutcomeFiles } from '../src/index.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'surge-outcomes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('readOutcomeFiles', () => {
  it('sums every worker file: duplicates are result writes that found the result already stored', () => {
    const outcomes = path.join(dir, 'run');
    mkdirSync(outcomes);
    const line = (messageId: string, outcome: string, write?: string) =>
      `${JSON.stringify(write === undefined ? { messageId, outcome } : { messageId, outcome, write })}\n`;
    writeFileSync(path.join(outcomes, 'worker-job-1.100.jsonl'), line('a', 'completed', 'written') + line('b', 'aborted'));
    writeFileSync(
      path.join(outcomes, 'worker-job-2.101.jsonl'),
      line('b', 'completed', 'written') + line('a', 'completed', 'duplicate') + line('a', 'settle-failed', 'duplicate'),
    );
    // A process killed mid-write leaves at most a partial last line; other files are not outcome files.
    writeFileSync(path.join(outcomes, 'worker-deployment-1.102.jsonl'), `${line('c', 'completed', 'written')}{"messageId":"d","outc`);
    writeFileSync(path.join(outcomes, 'notes.txt'), line('z', 'completed', 'duplicate'));
    expect(readOutcomeFiles(outcomes)).toEqual({ reports: 6, written: 3, duplicates: 2, unreadable: 1 });
  });

  it('a missing folder is no outcomes', () => {
    expect(readOutcomeFiles(path.join(dir, 'none'))).toEqual({ reports: 0, written: 0, duplicates: 0, unreadable: 0 });
  });
});
