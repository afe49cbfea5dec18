/**
 * The statements the index runs, prepared once per connection: the reads and changes of
 * `VersionIndex`, and transaction control (these run for every upload).
 *
 * @module
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";

/** The metadata columns every read of a version selects. */
const METADATA = "id, size, mtime_ms, mode, sha256, stored_ms";

const SQL = {
  find: `SELECT ${METADATA}, content, data_file, chunk_count FROM versions
       WHERE user_id = ? AND name = ? AND current = 1`,
  findMetadata: `SELECT ${METADATA}, NULL AS content, data_file, chunk_count FROM versions
       WHERE user_id = ? AND name = ? AND current = 1`,
  findVersion: `SELECT ${METADATA}, content, data_file, chunk_count FROM versions
       WHERE id = ? AND user_id = ? AND name = ?`,
  usage: `SELECT current_bytes + past_bytes - chunked_bytes + blob_bytes + version_charge_bytes
       AS used FROM users WHERE user_id = ?`,
  insert: `INSERT INTO versions (id, user_id, name, current, size, mtime_ms, mode, sha256,
         stored_ms, content, data_file, chunk_count)
       VALUES ((SELECT value FROM counters WHERE name = 'next_version_id'),
         ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?)`,
  end: "UPDATE versions SET current = 0, ended_ms = ?, deleted = ? WHERE id = ?",
  remove: "DELETE FROM versions WHERE id = ? RETURNING data_file",
  pastBeyond: `SELECT id FROM versions WHERE user_id = ? AND name = ? AND current = 0
       ORDER BY ended_ms DESC, id DESC LIMIT -1 OFFSET ?`,
  expired: "SELECT id FROM versions WHERE current = 0 AND ended_ms < ? LIMIT ?",
  overCount: `SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY user_id, name
         ORDER BY ended_ms DESC, id DESC) AS newer FROM versions WHERE current = 0
         AND user_id NOT IN (SELECT value FROM json_each(?)))
       WHERE newer > ? LIMIT ?`,
  users: "SELECT user_id FROM users",
  referenced: "SELECT 1 FROM versions WHERE data_file = ? LIMIT 1",
  firstBelow:
    "SELECT 1 FROM versions WHERE user_id = ? AND current = 1 AND name > ? AND name < ? LIMIT 1",
  begin: "BEGIN IMMEDIATE",
  beginRead: "BEGIN",
  commit: "COMMIT",
  savepoint: "SAVEPOINT change",
  release: "RELEASE change",
  undo: "ROLLBACK TO change",
} as const;

/** The prepared statements, by name. */
export type Statements = Record<keyof typeof SQL, StatementSync>;

/** Prepares every statement on `db`. */
export function prepareStatements(db: DatabaseSync): Statements {
  return prepareAll(db, SQL);
}

/** Prepares each statement of `sql` on `db`, under the same names. */
export function prepareAll<Names extends string>(
  db: DatabaseSync,
  sql: Record<Names, string>,
): Record<Names, StatementSync> {
  return Object.fromEntries(
    Object.entries<string>(sql).map(([name, text]) => [name, db.prepare(text)]),
  ) as Record<Names, StatementSync>;
}
