/**
 * The end of a run read from where the truth is: distinct results and their latencies from the result
 * store, duplicates from the workers' outcome files (each result write that found a result already
 * stored), dead letters of this load from the dead-letter queue; the arithmetic is `accountRun`.
 */
import { errorMessage } from '@surge/core';
import type { QueueClient } from '@surge/queue-adapters';
import type { ResultSink } from '@surge/results';
import { accountRun, readOutcomeFiles, type RunAccounting } from '@surge/scale-report';
import type { Logger } from '@surge/telemetry';

export interface RunAccountsOptions {
  readonly sink: ResultSink;
  readonly queue: QueueClient;
  readonly loadId: string;
  readonly sent: number;
  /** The depth's dead-letter count (the fallback when the dead-letter queue cannot be read). */
  readonly deadLetteredByDepth: number;
  /** The folder workers append their outcomes to (OUTCOMES_DIR). */
  readonly outcomesDir: string;
  readonly logger: Logger;
}

export interface RunAccounts extends RunAccounting {
  /** Enqueue-to-result time of every stored result. */
  readonly latenciesMs: number[];
}

export async function readRunAccounts(options: RunAccountsOptions): Promise<RunAccounts> {
  const keys = await options.sink.list(options.loadId);
  const latenciesMs = await readLatencies(options.sink, keys);
  const outcomes = readOutcomeFiles(options.outcomesDir);
  if (outcomes.unreadable > 0)
    options.logger.warn(
      { lines: outcomes.unreadable, dir: options.outcomesDir },
      'outcome lines that could not be read: duplicates may be undercounted',
    );
  const dead = await deadLettersOf(options.queue, options.loadId, options.deadLetteredByDepth, options.logger);
  const accounts = accountRun({
    sent: options.sent,
    results: keys.map((k) => k.messageId),
    duplicates: outcomes.duplicates,
    deadLettered: dead,
  });
  return { ...accounts, latenciesMs };
}

async function readLatencies(sink: ResultSink, keys: readonly { loadId: string; messageId: string }[]): Promise<number[]> {
  const latencies: number[] = [];
  // Bounded concurrency: thousands of small reads, without thousands of open files.
  for (let i = 0; i < keys.length; i += 64) {
    const batch = await Promise.all(keys.slice(i, i + 64).map((k) => sink.read(k).catch(() => undefined)));
    for (const result of batch) {
      if (result) latencies.push(Date.parse(result.finishedAt) - Date.parse(result.enqueuedAt));
    }
  }
  return latencies;
}

/**
 * The ids of this load's dead letters (bodies are work messages; other loads' dead letters in a reused
 * queue are left out). Falls back to the depth's count when the dead-letter queue cannot be read.
 */
async function deadLettersOf(queue: QueueClient, loadId: string, depthCount: number, logger: Logger): Promise<string[] | number> {
  if (depthCount === 0) return [];
  try {
    const letters = await queue.peekDeadLetters(Math.max(depthCount, 1) + 100);
    return letters.flatMap((letter) => {
      try {
        const body = JSON.parse(letter.body.toString('utf8')) as { loadId?: unknown };
        return body.loadId === loadId ? [letter.id] : [];
      } catch {
        return [];
      }
    });
  } catch (error) {
    logger.warn({ err: errorMessage(error) }, 'could not read the dead-letter queue: using the depth count');
    return depthCount;
  }
}
