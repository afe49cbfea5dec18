/**
 * The index's schema: one row per version of a file (the current one and past ones), and per-user
 * totals kept exact by triggers, so that a quota check and the size of a list read one row.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { BLOB_OVERHEAD_BYTES, versionChargeSql } from "../quota_charge.ts";
import { SCHEMA_6 } from "./schema_snapshots.ts";
import { SCHEMA_7 } from "./schema_key_slots.ts";

/** The schema version written to `PRAGMA user_version`. */
export const SCHEMA_VERSION = 7;

/** Added by schema 2: every version by name and time, for lists at a point in time. */
const SCHEMA_2 = `
CREATE INDEX IF NOT EXISTS by_name_and_time ON versions (user_id, name, stored_ms);
`;

/**
 * Added by schema 3: every user's count of versions and the bytes of their names, current or past,
 * which the quota charges (see `storage/quota_charge.ts`). The totals start from the rows already
 * there, so an index of an earlier schema is charged for what it holds.
 */
const SCHEMA_3 = `
ALTER TABLE users ADD COLUMN versions INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN version_name_bytes INTEGER NOT NULL DEFAULT 0;
UPDATE users SET
  versions = (SELECT count(*) FROM versions AS v WHERE v.user_id = users.user_id),
  version_name_bytes = (SELECT coalesce(sum(length(v.name)), 0) FROM versions AS v
    WHERE v.user_id = users.user_id);
CREATE TRIGGER IF NOT EXISTS version_counted AFTER INSERT ON versions BEGIN
  INSERT INTO users (user_id) VALUES (NEW.user_id) ON CONFLICT DO NOTHING;
  UPDATE users SET versions = versions + 1,
    version_name_bytes = version_name_bytes + length(NEW.name)
  WHERE user_id = NEW.user_id;
END;
CREATE TRIGGER IF NOT EXISTS version_uncounted AFTER DELETE ON versions BEGIN
  UPDATE users SET versions = versions - 1,
    version_name_bytes = version_name_bytes - length(OLD.name)
  WHERE user_id = OLD.user_id;
END;
`;

/**
 * Added by schema 4: every user's versions charged as SQLite stores their names
 * (`indexVersionCharge`: a long name spills onto overflow pages), which a charge linear in the
 * name's length (schema 3's totals) undercounted 2.5 times past ~990 bytes. The total starts from
 * the rows already there; schema 3's triggers give way to ones that keep all three totals.
 */
const SCHEMA_4 = `
ALTER TABLE users ADD COLUMN version_charge_bytes INTEGER NOT NULL DEFAULT 0;
UPDATE users SET version_charge_bytes = (SELECT coalesce(sum(${
  versionChargeSql("length(v.name)")
}), 0) FROM versions AS v WHERE v.user_id = users.user_id);
DROP TRIGGER IF EXISTS version_counted;
DROP TRIGGER IF EXISTS version_uncounted;
CREATE TRIGGER IF NOT EXISTS version_charged AFTER INSERT ON versions BEGIN
  INSERT INTO users (user_id) VALUES (NEW.user_id) ON CONFLICT DO NOTHING;
  UPDATE users SET versions = versions + 1,
    version_name_bytes = version_name_bytes + length(NEW.name),
    version_charge_bytes = version_charge_bytes + ${versionChargeSql("length(NEW.name)")}
  WHERE user_id = NEW.user_id;
END;
CREATE TRIGGER IF NOT EXISTS version_uncharged AFTER DELETE ON versions BEGIN
  UPDATE users SET versions = versions - 1,
    version_name_bytes = version_name_bytes - length(OLD.name),
    version_charge_bytes = version_charge_bytes - ${versionChargeSql("length(OLD.name)")}
  WHERE user_id = OLD.user_id;
END;
`;

/**
 * Added by schema 5: the repository of chunks. A large version's bytes are a list of chunks
 * (`version_chunks`, in order), each a blob of the user's (`blobs`: its SHA-256, where it is in
 * which pack, and how many chunk lists name it), in packs (`packs`: objects under `repo/`). Triggers
 * keep `refs` exact, the bytes of each pack's chunks that are indexed (`blob_bytes`) and still
 * referenced (`live_bytes`), against all its chunks' bytes (`data_bytes`, header and trailer left
 * out), for garbage collection, and each user's stored bytes after deduplication and compression (`blob_bytes`,
 * charged with `BLOB_OVERHEAD_BYTES` each) and the logical bytes of chunked versions
 * (`chunked_bytes`, which the usage takes out of the versions' sizes, replaced by `blob_bytes`).
 * A removed version's list moves to `released_chunks` (its chunks no longer referenced, usage
 * freed at once), where a reader still streaming it finds it until garbage collection forgets it.
 * A chunked version's row has an empty `content` (schema 1's CHECK wants one of the two columns).
 * Version ids come from `counters` and are never given twice (SQLite's own row ids are reused
 * after the highest row is deleted: a reader of a removed version would find another's list).
 */
const SCHEMA_5 = `
ALTER TABLE versions ADD COLUMN chunk_count INTEGER;
ALTER TABLE users ADD COLUMN chunked_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN blob_bytes INTEGER NOT NULL DEFAULT 0;
CREATE TABLE IF NOT EXISTS packs (
  pack_no INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  user_id INTEGER NOT NULL,
  size INTEGER NOT NULL,
  data_bytes INTEGER NOT NULL,
  blob_bytes INTEGER NOT NULL,
  live_bytes INTEGER NOT NULL DEFAULT 0,
  written_ms INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS blobs (
  blob_no INTEGER PRIMARY KEY,
  user_id INTEGER NOT NULL,
  id BLOB NOT NULL,
  pack_no INTEGER NOT NULL,
  offset INTEGER NOT NULL,
  stored_length INTEGER NOT NULL,
  raw_length INTEGER NOT NULL,
  compression INTEGER NOT NULL,
  refs INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE UNIQUE INDEX IF NOT EXISTS blob_ids ON blobs (user_id, id);
CREATE INDEX IF NOT EXISTS blobs_by_pack ON blobs (pack_no);
CREATE INDEX IF NOT EXISTS unreferenced_blobs ON blobs (blob_no) WHERE refs = 0;
CREATE TABLE IF NOT EXISTS version_chunks (
  version_id INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  blob_no INTEGER NOT NULL,
  PRIMARY KEY (version_id, seq)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS released_chunks (
  version_id INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  blob_no INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS released_by_version ON released_chunks (version_id, seq);
CREATE INDEX IF NOT EXISTS released_by_blob ON released_chunks (blob_no);
CREATE TRIGGER IF NOT EXISTS chunk_referenced AFTER INSERT ON version_chunks BEGIN
  UPDATE blobs SET refs = refs + 1 WHERE blob_no = NEW.blob_no;
END;
CREATE TRIGGER IF NOT EXISTS chunk_released AFTER DELETE ON version_chunks BEGIN
  UPDATE blobs SET refs = refs - 1 WHERE blob_no = OLD.blob_no;
END;
CREATE TRIGGER IF NOT EXISTS blob_liveness AFTER UPDATE OF refs ON blobs
  WHEN (OLD.refs = 0) <> (NEW.refs = 0) BEGIN
  INSERT INTO users (user_id) VALUES (NEW.user_id) ON CONFLICT DO NOTHING;
  UPDATE users SET blob_bytes = blob_bytes + (CASE WHEN NEW.refs > 0 THEN 1 ELSE -1 END)
    * (NEW.stored_length + ${BLOB_OVERHEAD_BYTES}) WHERE user_id = NEW.user_id;
  UPDATE packs SET live_bytes = live_bytes + (CASE WHEN NEW.refs > 0 THEN 1 ELSE -1 END)
    * NEW.stored_length WHERE pack_no = NEW.pack_no;
END;
CREATE TRIGGER IF NOT EXISTS blob_removed AFTER DELETE ON blobs BEGIN
  UPDATE packs SET blob_bytes = blob_bytes - OLD.stored_length WHERE pack_no = OLD.pack_no;
END;
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT;
INSERT INTO counters (name, value)
  SELECT 'next_version_id', coalesce(max(id), 0) + 1 FROM versions WHERE true
  ON CONFLICT DO NOTHING;
CREATE TRIGGER IF NOT EXISTS version_id_taken AFTER INSERT ON versions BEGIN
  UPDATE counters SET value = max(value, NEW.id + 1) WHERE name = 'next_version_id';
END;
CREATE TRIGGER IF NOT EXISTS chunked_version_added AFTER INSERT ON versions
  WHEN NEW.chunk_count IS NOT NULL BEGIN
  INSERT INTO users (user_id) VALUES (NEW.user_id) ON CONFLICT DO NOTHING;
  UPDATE users SET chunked_bytes = chunked_bytes + NEW.size WHERE user_id = NEW.user_id;
END;
CREATE TRIGGER IF NOT EXISTS chunked_version_removed AFTER DELETE ON versions
  WHEN OLD.chunk_count IS NOT NULL BEGIN
  UPDATE users SET chunked_bytes = chunked_bytes - OLD.size WHERE user_id = OLD.user_id;
  INSERT INTO released_chunks (version_id, seq, blob_no)
    SELECT version_id, seq, blob_no FROM version_chunks WHERE version_id = OLD.id;
  DELETE FROM version_chunks WHERE version_id = OLD.id;
END;
`;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS versions (
  id INTEGER PRIMARY KEY,
  user_id INTEGER NOT NULL,
  name BLOB NOT NULL,
  current INTEGER NOT NULL,
  size INTEGER NOT NULL,
  mtime_ms INTEGER NOT NULL,
  mode INTEGER,
  sha256 BLOB NOT NULL,
  stored_ms INTEGER NOT NULL,
  ended_ms INTEGER,
  deleted INTEGER NOT NULL DEFAULT 0,
  content BLOB,
  data_file TEXT,
  CHECK ((content IS NULL) <> (data_file IS NULL))
) STRICT;
CREATE UNIQUE INDEX IF NOT EXISTS current_names ON versions (user_id, name) WHERE current = 1;
CREATE INDEX IF NOT EXISTS past_by_name ON versions (user_id, name, ended_ms) WHERE current = 0;
CREATE INDEX IF NOT EXISTS past_by_end ON versions (ended_ms) WHERE current = 0;
CREATE INDEX IF NOT EXISTS by_data_file ON versions (data_file) WHERE data_file IS NOT NULL;
${SCHEMA_2}
CREATE TABLE IF NOT EXISTS users (
  user_id INTEGER PRIMARY KEY,
  files INTEGER NOT NULL DEFAULT 0,
  name_bytes INTEGER NOT NULL DEFAULT 0,
  current_bytes INTEGER NOT NULL DEFAULT 0,
  past_bytes INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TRIGGER IF NOT EXISTS version_added AFTER INSERT ON versions BEGIN
  INSERT INTO users (user_id) VALUES (NEW.user_id) ON CONFLICT DO NOTHING;
  UPDATE users SET files = files + NEW.current,
    name_bytes = name_bytes + NEW.current * length(NEW.name),
    current_bytes = current_bytes + NEW.current * NEW.size,
    past_bytes = past_bytes + (1 - NEW.current) * NEW.size
  WHERE user_id = NEW.user_id;
END;
CREATE TRIGGER IF NOT EXISTS version_removed AFTER DELETE ON versions BEGIN
  UPDATE users SET files = files - OLD.current,
    name_bytes = name_bytes - OLD.current * length(OLD.name),
    current_bytes = current_bytes - OLD.current * OLD.size,
    past_bytes = past_bytes - (1 - OLD.current) * OLD.size
  WHERE user_id = OLD.user_id;
END;
CREATE TRIGGER IF NOT EXISTS version_ended AFTER UPDATE OF current ON versions BEGIN
  UPDATE users SET files = files - OLD.current + NEW.current,
    name_bytes = name_bytes + (NEW.current - OLD.current) * length(NEW.name),
    current_bytes = current_bytes + (NEW.current - OLD.current) * NEW.size,
    past_bytes = past_bytes + (OLD.current - NEW.current) * NEW.size
  WHERE user_id = NEW.user_id;
END;
`;

/** How long the index's writer waits for another connection's lock before giving up (ms). */
export const BUSY_TIMEOUT_MS = 5000;

/**
 * Bytes the log file is cut back to whenever SQLite starts it over (`journal_size_limit`). The log
 * grows past it only while a reader holds old pages (none of the server's own: lists read a page
 * per statement) and between checkpoints; without a limit, the file keeps its largest size for good.
 */
export const LOG_SIZE_LIMIT_BYTES = 4 * 1024 * 1024;

/**
 * Sets the connection up (WAL; commits are made durable by `WalSync`, checkpoints by SQLite) and
 * creates the schema if it is missing.
 *
 * @throws {Error} if the index was written by a newer version of the server.
 */
export function prepareIndex(db: DatabaseSync): void {
  // The wait first: the switch to WAL needs the file to itself, and a reader (an operator's sqlite3)
  // may hold it. NORMAL in WAL mode: a commit does not fsync (WalSync does that off the event loop,
  // for many commits at once). No automatic checkpoints: `Checkpoints` runs them off the event loop.
  db.exec(
    `PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}; PRAGMA journal_mode = WAL; ` +
      "PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0; " +
      `PRAGMA journal_size_limit = ${LOG_SIZE_LIMIT_BYTES};`,
  );
  const { user_version: version } = db.prepare("PRAGMA user_version").get() as {
    user_version: number;
  };
  if (version > SCHEMA_VERSION) {
    throw new Error(
      `the index was written by a newer server (schema ${version}, this one knows ${SCHEMA_VERSION})`,
    );
  }
  if (version === SCHEMA_VERSION) return;
  // Schema 1 (the first release) lacks schema 2's index and the totals of schemas 3 and 4, schema
  // 2 the totals, schema 3 the charge, schema 4 the chunks, schema 5 the snapshots, schema 6 the
  // key slots; an empty file gets everything.
  const upgrade = version === 6
    ? SCHEMA_7
    : version === 5
    ? SCHEMA_6 + SCHEMA_7
    : version === 4
    ? SCHEMA_5 + SCHEMA_6 + SCHEMA_7
    : version === 3
    ? SCHEMA_4 + SCHEMA_5 + SCHEMA_6 + SCHEMA_7
    : version === 2
    ? SCHEMA_3 + SCHEMA_4 + SCHEMA_5 + SCHEMA_6 + SCHEMA_7
    : version === 1
    ? SCHEMA_2 + SCHEMA_3 + SCHEMA_4 + SCHEMA_5 + SCHEMA_6 + SCHEMA_7
    : SCHEMA + SCHEMA_3 + SCHEMA_4 + SCHEMA_5 + SCHEMA_6 + SCHEMA_7;
  db.exec(`BEGIN IMMEDIATE; ${upgrade} PRAGMA user_version = ${SCHEMA_VERSION}; COMMIT;`);
}
