/**
 * Where workers store what they did. The store is the idempotency point of the whole system: the
 * queue delivers at least once (spot eviction, SIGKILL, a lost lock), so the same message can be
 * processed twice, and the second result must never replace the first. Every sink therefore
 * writes with create-if-absent semantics under a deterministic name, `<loadId>/<messageId>.json`.
 */
import type { WorkResult } from '@surge/contracts';
import type { Logger } from '@surge/core';

export type ResultsKind = 'local' | 'blob';

/** `written`: this call stored the result. `duplicate`: a result for the message was already there and was kept. */
export type WriteOutcome = 'written' | 'duplicate';

export interface ResultKey {
  loadId: string;
  messageId: string;
}

export interface ResultSink {
  readonly kind: ResultsKind;
  /** Human-readable location for logs (a folder, or `<account url>/<container>`); never a secret. */
  readonly location: string;
  /** Stores the result unless one for the same message exists; never overwrites. Throws ResultError. */
  writeIfAbsent(result: WorkResult): Promise<WriteOutcome>;
  /** The stored result, or undefined when there is none. */
  read(key: ResultKey): Promise<WorkResult | undefined>;
  /** Every stored result key of a load (or of all loads), in no particular order. For tests and accounting. */
  list(loadId?: string): Promise<ResultKey[]>;
  /** Releases handles; later calls throw RESULTS_CLOSED. Idempotent. */
  close(): Promise<void>;
}

export interface SinkOptions {
  /** Defaults to the silent logger; sinks never log result contents or credentials. */
  logger?: Logger;
}
