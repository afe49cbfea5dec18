/**
 * The two `PRAGMA wal_checkpoint` calls that `Checkpoints` makes through the index's connection:
 * a copy of the log's pages without an fsync, and a cut of the log to nothing. Neither ever waits
 * for a reader.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { BUSY_TIMEOUT_MS } from "./schema.ts";

/** What `PRAGMA wal_checkpoint` answers: pages in the log, and how many of them are copied. */
interface Checkpointed {
  busy: number;
  log: number;
  checkpointed: number;
}

/**
 * Copies the log's pages into the database file without an fsync (see `Checkpoints`, which makes
 * them durable before the log is reused). Passive: a reader is never waited for.
 *
 * @returns true if every page of the log is now in the database file (no reader held any back).
 * @throws what SQLite throws (a full disk cuts the copy short; the log stays whole and in use).
 */
export function checkpointWithoutSync(db: DatabaseSync): boolean {
  db.exec("PRAGMA synchronous = OFF");
  try {
    const result = db.prepare("PRAGMA wal_checkpoint(PASSIVE)").get() as unknown as Checkpointed;
    return result.busy === 0 && result.log === result.checkpointed;
  } finally {
    db.exec("PRAGMA synchronous = NORMAL");
  }
}

/**
 * Cuts the log file to nothing, if no reader uses it; never waits for one. Call only once every
 * page of the log is durably in the database file (see `Checkpoints`): then there is nothing to
 * copy, and no fsync on the event loop.
 *
 * @returns true if the log was cut.
 */
export function truncateLog(db: DatabaseSync): boolean {
  db.exec("PRAGMA busy_timeout = 0");
  try {
    const result = db.prepare("PRAGMA wal_checkpoint(TRUNCATE)").get() as unknown as Checkpointed;
    return result.busy === 0;
  } finally {
    db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
  }
}
