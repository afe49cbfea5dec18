/**
 * Schema 6 of the index: the tables and triggers of snapshots (see `SCHEMA_6`); `schema.ts` applies
 * it after the schemas before it.
 *
 * @module
 */
import { BLOB_OVERHEAD_BYTES, VERSION_OVERHEAD_BYTES } from "../quota_charge.ts";

/**
 * Bytes a snapshot is charged besides its record: a version's overhead (`VERSION_OVERHEAD_BYTES`:
 * its row and index entries; a snapshot's id, tree and times take no more than a version's).
 */
export const SNAPSHOT_OVERHEAD_BYTES = VERSION_OVERHEAD_BYTES;

/** What a snapshot with a record of `recordBytes` is charged against the quota. */
export function snapshotCharge(recordBytes: number): number {
  return recordBytes + SNAPSHOT_OVERHEAD_BYTES;
}

/**
 * Added by schema 6: snapshots (protocol version 3, docs/snapshots_plan.md §3). A blob has a
 * `kind` (0 a data chunk, 1 a tree); a tree's references are rows of `tree_refs`, and a snapshot
 * (`snapshots`) references its root tree: both count in `refs` as chunk lists do, so a blob is
 * kept while anything names it, and a tree removed by garbage collection releases what it named
 * (the cascade). Blobs a session indexed before anything named them carry `unclaimed_ms` (when
 * indexed) until their first reference: garbage collection keeps them for a grace period, and
 * they count against the quota (`blob_bytes`) and as live bytes of their pack (not repacked
 * away) from the start. `released_seq` is the value of the
 * counter `release_seq` when a blob's last reference went away: an open session keeps every blob
 * released after it started (for the grace period at most, `session_pins.ts`).
 *
 * The quota (`users`): a snapshot is charged its record and `SNAPSHOT_OVERHEAD_BYTES` in
 * `version_charge_bytes` (what a v2 version's metadata is charged in) while it exists. A tree a
 * session dropped at its close (it waited for references that never came) is dead space in its
 * pack: `packs.dropped_bytes` counts it (stored + `BLOB_OVERHEAD_BYTES` each), charged to the
 * pack's user in `blob_bytes` until garbage collection removes the pack (empty, or repacked).
 *
 * Schema 5's rows convert in place: their columns take the defaults (data chunks, claimed,
 * released before any session, no dropped bytes).
 */
export const SCHEMA_6 = `
ALTER TABLE blobs ADD COLUMN kind INTEGER NOT NULL DEFAULT 0;
ALTER TABLE blobs ADD COLUMN unclaimed_ms INTEGER;
ALTER TABLE blobs ADD COLUMN released_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE packs ADD COLUMN dropped_bytes INTEGER NOT NULL DEFAULT 0;
INSERT INTO counters (name, value) VALUES ('release_seq', 0) ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS tree_refs (
  blob_no INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  ref_blob_no INTEGER NOT NULL,
  PRIMARY KEY (blob_no, seq)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS snapshots (
  snapshot_no INTEGER PRIMARY KEY,
  user_id INTEGER NOT NULL,
  id BLOB NOT NULL,
  tree_blob_no INTEGER NOT NULL,
  stored_ms INTEGER NOT NULL,
  record BLOB NOT NULL
) STRICT;
CREATE UNIQUE INDEX IF NOT EXISTS snapshot_ids ON snapshots (user_id, id);
CREATE INDEX IF NOT EXISTS snapshots_by_user ON snapshots (user_id, snapshot_no);
CREATE TRIGGER IF NOT EXISTS tree_ref_added AFTER INSERT ON tree_refs BEGIN
  UPDATE blobs SET refs = refs + 1 WHERE blob_no = NEW.ref_blob_no;
END;
CREATE TRIGGER IF NOT EXISTS tree_ref_removed AFTER DELETE ON tree_refs BEGIN
  UPDATE blobs SET refs = refs - 1 WHERE blob_no = OLD.ref_blob_no;
END;
CREATE TRIGGER IF NOT EXISTS snapshot_added AFTER INSERT ON snapshots BEGIN
  UPDATE blobs SET refs = refs + 1 WHERE blob_no = NEW.tree_blob_no;
  INSERT INTO users (user_id) VALUES (NEW.user_id) ON CONFLICT DO NOTHING;
  UPDATE users SET version_charge_bytes = version_charge_bytes + length(NEW.record)
    + ${SNAPSHOT_OVERHEAD_BYTES} WHERE user_id = NEW.user_id;
END;
CREATE TRIGGER IF NOT EXISTS snapshot_removed AFTER DELETE ON snapshots BEGIN
  UPDATE blobs SET refs = refs - 1 WHERE blob_no = OLD.tree_blob_no;
  UPDATE users SET version_charge_bytes = version_charge_bytes - (length(OLD.record)
    + ${SNAPSHOT_OVERHEAD_BYTES}) WHERE user_id = OLD.user_id;
END;
CREATE TRIGGER IF NOT EXISTS pack_dropped_charged AFTER UPDATE OF dropped_bytes ON packs BEGIN
  INSERT INTO users (user_id) VALUES (NEW.user_id) ON CONFLICT DO NOTHING;
  UPDATE users SET blob_bytes = blob_bytes + NEW.dropped_bytes - OLD.dropped_bytes
    WHERE user_id = NEW.user_id;
END;
CREATE TRIGGER IF NOT EXISTS pack_dropped_uncharged AFTER DELETE ON packs
  WHEN OLD.dropped_bytes > 0 BEGIN
  UPDATE users SET blob_bytes = blob_bytes - OLD.dropped_bytes WHERE user_id = OLD.user_id;
END;
CREATE TRIGGER IF NOT EXISTS tree_removed AFTER DELETE ON blobs WHEN OLD.kind = 1 BEGIN
  DELETE FROM tree_refs WHERE blob_no = OLD.blob_no;
END;
CREATE TRIGGER IF NOT EXISTS blob_released AFTER UPDATE OF refs ON blobs
  WHEN OLD.refs > 0 AND NEW.refs = 0 BEGIN
  UPDATE counters SET value = value + 1 WHERE name = 'release_seq';
  UPDATE blobs SET released_seq = (SELECT value FROM counters WHERE name = 'release_seq')
    WHERE blob_no = NEW.blob_no;
END;
CREATE TRIGGER IF NOT EXISTS unclaimed_blob_added AFTER INSERT ON blobs
  WHEN NEW.unclaimed_ms IS NOT NULL BEGIN
  INSERT INTO users (user_id) VALUES (NEW.user_id) ON CONFLICT DO NOTHING;
  UPDATE users SET blob_bytes = blob_bytes + NEW.stored_length + ${BLOB_OVERHEAD_BYTES}
    WHERE user_id = NEW.user_id;
  UPDATE packs SET live_bytes = live_bytes + NEW.stored_length WHERE pack_no = NEW.pack_no;
END;
CREATE TRIGGER IF NOT EXISTS blob_claimed AFTER UPDATE OF refs ON blobs
  WHEN OLD.refs = 0 AND NEW.refs > 0 AND OLD.unclaimed_ms IS NOT NULL BEGIN
  UPDATE blobs SET unclaimed_ms = NULL WHERE blob_no = NEW.blob_no;
  UPDATE users SET blob_bytes = blob_bytes - (NEW.stored_length + ${BLOB_OVERHEAD_BYTES})
    WHERE user_id = NEW.user_id;
  UPDATE packs SET live_bytes = live_bytes - NEW.stored_length WHERE pack_no = NEW.pack_no;
END;
CREATE TRIGGER IF NOT EXISTS unclaimed_blob_removed AFTER DELETE ON blobs
  WHEN OLD.unclaimed_ms IS NOT NULL BEGIN
  UPDATE users SET blob_bytes = blob_bytes - (OLD.stored_length + ${BLOB_OVERHEAD_BYTES})
    WHERE user_id = OLD.user_id;
  UPDATE packs SET live_bytes = live_bytes - OLD.stored_length WHERE pack_no = OLD.pack_no;
END;
`;
