/**
 * The embedded queue's storage: one SQLite database per queue (node:sqlite, built into Node, no
 * native addon to build), in WAL mode so several processes on one machine share it safely. Every
 * state change is one short transaction; SQLite's file locks serialise writers across processes.
 *
 * A delivery is a lease: receiving sets `lease_token` and pushes `visible_at` into the future. A
 * holder that dies stops renewing, the lease runs out, and the next receive hands the message out
 * again with `delivery_count + 1`. Committed rows survive a killed process (WAL, synchronous=NORMAL;
 * only a power loss can drop the last commits).
 */
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { DeadLetterReasons } from '../types.ts';

export interface StoredMessage {
  seq: number;
  id: string;
  body: Uint8Array;
  properties: string;
  enqueuedAt: number;
  deliveryCount: number;
  leaseToken: string;
}

export interface StoredDeadLetter {
  id: string;
  body: Uint8Array;
  properties: string;
  reason: string;
  description: string | null;
}

/** The queue file exists but is not the queue it was: retrying cannot fix it. */
export class StoreDamagedError extends Error {
  override readonly name = 'StoreDamagedError';
}

/**
 * SQLite result codes that mean the file itself is damaged or is not a database
 * (SQLITE_CORRUPT 11, SQLITE_NOTADB 26): every later call fails the same way.
 */
export function isDamage(error: unknown): boolean {
  if (error instanceof StoreDamagedError) return true;
  const errcode = (error as { errcode?: unknown }).errcode;
  return typeof errcode === 'number' && [11, 26].includes(errcode & 0xff);
}

const ACTIVE = 0;
const DEAD = 1;

export class EmbeddedStore {
  readonly file: string;
  private readonly db: DatabaseSync;
  private readonly insert: StatementSync;
  private readonly lease: StatementSync;
  private readonly deadLetterRow: StatementSync;
  private readonly deleteLeased: StatementSync;
  private readonly releaseLeased: StatementSync;
  private readonly renew: StatementSync;
  private readonly counts: StatementSync;
  private readonly peekDead: StatementSync;

  /** `dir` must exist (the client creates it without blocking the event loop). */
  constructor(dir: string, queue: string) {
    this.file = path.join(dir, `${queue}.sqlite`);
    // SQLite reads a missing or 0-byte file as an empty database, so a queue file that was
    // truncated or replaced would look like an empty queue and its messages would vanish unnoticed.
    // A marker written after the schema's first commit says "this queue was initialised": with the
    // marker present, a file without the schema is an error, never an empty queue. No marker is a
    // first run (or a queue made before markers existed), which creates the schema as before.
    const marker = `${this.file}.initialised`;
    const initialised = existsSync(marker);
    // timeout = SQLite busy timeout: a writer waits this long for another process's transaction.
    this.db = new DatabaseSync(this.file, { timeout: 10_000 });
    if (initialised && !this.hasSchema()) {
      this.db.close();
      throw new StoreDamagedError(
        `${this.file} was initialised (${path.basename(marker)} exists) but holds no queue: the file was truncated or replaced; restore it, or delete both files to start an empty queue`,
      );
    }
    this.db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;');
    this.transaction(() =>
      this.db.exec(`
        CREATE TABLE IF NOT EXISTS messages (
          seq INTEGER PRIMARY KEY AUTOINCREMENT,
          id TEXT NOT NULL,
          body BLOB NOT NULL,
          properties TEXT NOT NULL,
          enqueued_at INTEGER NOT NULL,
          delivery_count INTEGER NOT NULL DEFAULT 0,
          visible_at INTEGER NOT NULL,
          lease_token TEXT,
          state INTEGER NOT NULL DEFAULT ${ACTIVE},
          dl_reason TEXT,
          dl_description TEXT
        );
        CREATE INDEX IF NOT EXISTS messages_ready ON messages (state, visible_at, seq);
        CREATE INDEX IF NOT EXISTS messages_lease ON messages (lease_token);
      `),
    );
    if (!initialised) writeFileSync(marker, `${queue}\n`);
    this.insert = this.db.prepare('INSERT INTO messages (id, body, properties, enqueued_at, visible_at) VALUES (?, ?, ?, ?, ?)');
    this.lease = this.db.prepare(`
      UPDATE messages SET lease_token = ? || '-' || seq, visible_at = ?, delivery_count = delivery_count + 1
      WHERE seq IN (SELECT seq FROM messages WHERE state = ${ACTIVE} AND visible_at <= ? ORDER BY seq LIMIT ?)
      RETURNING seq, id, body, properties, enqueued_at AS enqueuedAt, delivery_count AS deliveryCount, lease_token AS leaseToken`);
    this.deadLetterRow = this.db.prepare(
      `UPDATE messages SET state = ${DEAD}, lease_token = NULL, dl_reason = ?, dl_description = ? WHERE seq = ? AND lease_token = ? AND state = ${ACTIVE}`,
    );
    this.deleteLeased = this.db.prepare(`DELETE FROM messages WHERE seq = ? AND lease_token = ? AND state = ${ACTIVE}`);
    this.releaseLeased = this.db.prepare(
      `UPDATE messages SET lease_token = NULL, visible_at = ? WHERE seq = ? AND lease_token = ? AND state = ${ACTIVE}`,
    );
    this.renew = this.db.prepare(`UPDATE messages SET visible_at = ? WHERE seq = ? AND lease_token = ? AND state = ${ACTIVE}`);
    this.counts = this.db.prepare(`
      SELECT COALESCE(SUM(state = ${ACTIVE} AND visible_at <= ?), 0) AS ready,
             COALESCE(SUM(state = ${ACTIVE} AND visible_at > ?), 0) AS inFlight,
             COALESCE(SUM(state = ${DEAD}), 0) AS deadLettered
      FROM messages`);
    this.peekDead = this.db.prepare(
      `SELECT id, body, properties, dl_reason AS reason, dl_description AS description FROM messages WHERE state = ${DEAD} ORDER BY seq LIMIT ?`,
    );
  }

  private hasSchema(): boolean {
    return this.db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'messages'`).get() !== undefined;
  }

  /** BEGIN IMMEDIATE takes the write lock up front, so two processes never deadlock upgrading a read. */
  transaction<T>(work: () => T): T {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const result = work();
      this.db.exec('COMMIT');
      return result;
    } catch (error) {
      if (this.db.isTransaction) this.db.exec('ROLLBACK');
      throw error;
    }
  }

  append(messages: readonly { id: string; body: Uint8Array; properties: string }[], now: number): void {
    this.transaction(() => {
      for (const m of messages) this.insert.run(m.id, m.body, m.properties, now, now);
    });
  }

  /**
   * Leases up to `max` visible messages. Messages already delivered `maxDeliveries` times (their
   * last holder abandoned them or died) are dead-lettered here instead of being handed out again.
   */
  leaseBatch(max: number, leaseMs: number, maxDeliveries: number, tokenPrefix: string, now: number): StoredMessage[] {
    return this.transaction(() => {
      const rows = this.lease.all(tokenPrefix, now + leaseMs, now, max) as unknown as StoredMessage[];
      const handedOut: StoredMessage[] = [];
      for (const row of rows) {
        if (row.deliveryCount > maxDeliveries) {
          this.deadLetterRow.run(
            DeadLetterReasons.MAX_DELIVERIES,
            `delivered ${row.deliveryCount - 1} times without being completed`,
            row.seq,
            row.leaseToken,
          );
        } else {
          handedOut.push(row);
        }
      }
      return handedOut.sort((a, b) => a.seq - b.seq);
    });
  }

  /** Applies many settlements in one transaction; returns, per operation, whether the lease was still held. */
  settleMany(ops: readonly SettleOp[], now: number): boolean[] {
    return this.transaction(() =>
      ops.map((op) => {
        switch (op.kind) {
          case 'complete':
            return this.deleteLeased.run(op.seq, op.leaseToken).changes === 1;
          case 'release':
            return this.releaseLeased.run(now, op.seq, op.leaseToken).changes === 1;
          case 'dead-letter':
            return this.deadLetterRow.run(op.reason, op.description ?? null, op.seq, op.leaseToken).changes === 1;
          case 'renew':
            return this.renew.run(op.visibleUntil, op.seq, op.leaseToken).changes === 1;
        }
      }),
    );
  }

  depth(now: number): { ready: number; inFlight: number; deadLettered: number } {
    const row = this.counts.get(now, now) as { ready: number; inFlight: number; deadLettered: number };
    return { ready: Number(row.ready), inFlight: Number(row.inFlight), deadLettered: Number(row.deadLettered) };
  }

  peekDeadLetters(max: number): StoredDeadLetter[] {
    return this.peekDead.all(max) as unknown as StoredDeadLetter[];
  }

  close(): void {
    if (this.db.isOpen) this.db.close();
  }
}

export type SettleOp =
  | { kind: 'complete'; seq: number; leaseToken: string }
  | { kind: 'release'; seq: number; leaseToken: string }
  | { kind: 'dead-letter'; seq: number; leaseToken: string; reason: string; description: string | undefined }
  | { kind: 'renew'; seq: number; leaseToken: string; visibleUntil: number };
