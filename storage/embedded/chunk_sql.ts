/**
 * The statements of the index's chunk tables (`blobs`, `packs`, `version_chunks`,
 * `released_chunks`), as `ChunkCatalog` (`chunk_catalog.ts`) runs them.
 *
 * @module
 */
import type { StatementSync } from "node:sqlite";

/** No open session of the blob's user pins it: a bound no release counter reaches. */
const NO_PIN = Number.MAX_SAFE_INTEGER;

/**
 * The pack number of a blob dropped as damaged (`SnapshotCatalog.markDamaged`): no pack has it
 * (numbers start at 1), so every lookup that joins packs, or asks for a blob with a pack, finds
 * none, and an upload sends it again.
 */
export const DAMAGED_PACK_NO = 0;

/** The chunk tables' statements, by name (prepared once per connection). */
export const SQL = {
  findBlob: `SELECT blob_no, compression FROM blobs WHERE user_id = ? AND id = ?
       AND pack_no <> ${DAMAGED_PACK_NO}`,
  insertPack: `INSERT INTO packs (name, user_id, size, data_bytes, blob_bytes, written_ms)
       VALUES (?, ?, ?, ?, 0, ?) RETURNING pack_no`,
  insertBlob: `INSERT INTO blobs (user_id, id, pack_no, offset, stored_length, raw_length,
         compression) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, id) DO NOTHING`,
  countBlobBytes: "UPDATE packs SET blob_bytes = blob_bytes + ? WHERE pack_no = ?",
  insertChunk: "INSERT INTO version_chunks (version_id, seq, blob_no) VALUES (?, ?, ?)",
  placements: `SELECT c.seq, b.id, p.name AS pack, b.offset, b.stored_length, b.raw_length,
         b.compression FROM (SELECT seq, blob_no FROM version_chunks WHERE version_id = ?1
           UNION ALL SELECT seq, blob_no FROM released_chunks WHERE version_id = ?1) AS c
         JOIN blobs AS b USING (blob_no) JOIN packs AS p USING (pack_no)
       WHERE c.seq >= ?2 AND b.user_id = ?4 ORDER BY c.seq LIMIT ?3`,
  packIndexed: "SELECT 1 FROM packs WHERE name = ?",
  forgetReleased: `DELETE FROM released_chunks WHERE rowid IN (SELECT rowid FROM released_chunks
       WHERE version_id NOT IN (SELECT value FROM json_each(?)) LIMIT ?)`,
  unreferenced: `SELECT blob_no, user_id, id FROM blobs WHERE refs = 0 AND blob_no > ?1
       AND NOT EXISTS (SELECT 1 FROM released_chunks AS r WHERE r.blob_no = blobs.blob_no)
       AND released_seq <= coalesce(json_extract(?3, '$.u' || user_id), ${NO_PIN})
       AND (unclaimed_ms IS NULL OR unclaimed_ms < ?4)
       ORDER BY blob_no LIMIT ?2`,
  removeBlob: "DELETE FROM blobs WHERE blob_no = ? AND refs = 0",
  emptyPacks: `SELECT pack_no, name, user_id FROM packs
       WHERE NOT EXISTS (SELECT 1 FROM blobs WHERE blobs.pack_no = packs.pack_no)
         AND name NOT IN (SELECT value FROM json_each(?2))
       LIMIT ?1`,
  removePack: "DELETE FROM packs WHERE pack_no = ?",
  packHasBlobs: "SELECT 1 FROM blobs WHERE pack_no = ? LIMIT 1",
  wastefulPacks: `SELECT pack_no, name, user_id, size FROM packs
       WHERE live_bytes * ?1 < data_bytes * ?2
         AND name NOT IN (SELECT value FROM json_each(?4))
         AND NOT EXISTS (SELECT 1 FROM blobs AS b JOIN released_chunks AS r USING (blob_no)
           WHERE b.pack_no = packs.pack_no)
       ORDER BY live_bytes LIMIT ?3`,
  blobsIn: `SELECT id, offset, stored_length, raw_length, compression FROM blobs
       WHERE pack_no = ? ORDER BY offset`,
  moveBlob: `UPDATE blobs SET pack_no = ?, offset = ?
       WHERE user_id = ? AND id = ? AND pack_no = ?`,
  recount: `UPDATE packs SET
         blob_bytes = (SELECT coalesce(sum(stored_length), 0) FROM blobs WHERE pack_no = ?1),
         live_bytes = (SELECT coalesce(sum(stored_length), 0) FROM blobs
           WHERE pack_no = ?1 AND (refs > 0 OR unclaimed_ms IS NOT NULL))
       WHERE pack_no = ?1`,
  heal: `UPDATE blobs SET pack_no = ?3, offset = ?4, stored_length = ?5, raw_length = ?6,
         compression = ?7 WHERE user_id = ?1 AND id = ?2 AND pack_no = ${DAMAGED_PACK_NO}
       RETURNING refs > 0 OR unclaimed_ms IS NOT NULL AS charged`,
  healedLive: "UPDATE packs SET live_bytes = live_bytes + ? WHERE pack_no = ?",
  healedCharge: "UPDATE users SET blob_bytes = blob_bytes + ? WHERE user_id = ?",
} as const;

/** The chunk tables' statements, prepared on one connection. */
export type Statements = Record<keyof typeof SQL, StatementSync>;
