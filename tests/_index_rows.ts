/**
 * Versions written straight into a root's index, through the real schema and its triggers: a
 * hundred thousand names in a second or two, where uploads would take minutes.
 */
import { DatabaseSync } from "node:sqlite";
import { INDEX_FILE_NAME } from "../storage/embedded/engine.ts";
import { VersionIndex } from "../storage/embedded/version_index.ts";

/** One version of an empty file. */
export interface IndexRow {
  userId: number;
  name: string;
  /** When it was stored (ms since the epoch). */
  storedMs: number;
  /** When it stopped being current; absent: it is current. */
  endedMs?: number;
  /** It ended because the file was deleted. */
  deleted?: boolean;
}

/**
 * Creates the index of `root` (if new) and adds the versions `rows` yields, in one transaction.
 *
 * @returns the bytes of the names added, each with its newline (a v1 list's payload).
 */
export function addIndexRows(root: string, rows: Iterable<IndexRow>): number {
  new VersionIndex(`${root}/${INDEX_FILE_NAME}`, { keepDays: 30 }).close(); // the schema
  const db = new DatabaseSync(`${root}/${INDEX_FILE_NAME}`);
  try {
    const insert = db.prepare(
      `INSERT INTO versions (user_id, name, current, size, mtime_ms, sha256, stored_ms, ended_ms,
         deleted, content) VALUES (?, ?, ?, 0, 0, zeroblob(32), ?, ?, ?, x'')`,
    );
    const encoder = new TextEncoder();
    let nameBytes = 0;
    db.exec("BEGIN");
    for (const row of rows) {
      const name = encoder.encode(row.name);
      nameBytes += name.length + 1;
      const current = row.endedMs === undefined ? 1 : 0;
      insert.run(row.userId, name, current, row.storedMs, row.endedMs ?? null, row.deleted ? 1 : 0);
    }
    db.exec("COMMIT");
    return nameBytes;
  } finally {
    db.close();
  }
}
