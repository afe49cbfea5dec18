/**
 * The index's side of snapshots (schema 6, `schema_snapshots.ts`): blobs with their kind, the
 * references of trees, and snapshots. Every method is synchronous; changes run inside the caller's
 * transaction (`VersionIndex.transaction`), made durable by the caller.
 *
 * @module
 */
import type { StatementSync } from "node:sqlite";
import type { WrittenPack } from "../../repository/pack_writer.ts";
import { type BlobCompression, COMPRESSION_SEALED } from "../../repository/pack_format.ts";
import { type BlobKind, SNAPSHOT_ID_BYTES } from "../snapshots.ts";
import {
  type ChunkCatalog,
  compressionCode,
  compressionOf,
  DAMAGED_PACK_NO,
} from "./chunk_catalog.ts";

const SQL = {
  findBlob: `SELECT blob_no FROM blobs WHERE user_id = ? AND id = ?
       AND pack_no <> ${DAMAGED_PACK_NO}`,
  compressionOf: "SELECT compression FROM blobs WHERE blob_no = ?",
  findPack: "SELECT pack_no FROM packs WHERE name = ?",
  insertBlob: `INSERT INTO blobs (user_id, id, pack_no, offset, stored_length, raw_length,
         compression, kind, unclaimed_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (user_id, id) DO NOTHING`,
  countBlobBytes: "UPDATE packs SET blob_bytes = blob_bytes + ? WHERE pack_no = ?",
  chargeDropped: "UPDATE packs SET dropped_bytes = dropped_bytes + ? WHERE name = ?",
  insertRef: "INSERT INTO tree_refs (blob_no, seq, ref_blob_no) VALUES (?, ?, ?)",
  // Stored times rise strictly per user (a clock that steps back, two commits in one
  // millisecond): the wire lists snapshots in increasing (stored time, id) and clients check it.
  insertSnapshot: `INSERT INTO snapshots (user_id, id, tree_blob_no, stored_ms, record)
       SELECT ?1, ?2, ?3,
         max(?4, coalesce((SELECT max(stored_ms) + 1 FROM snapshots WHERE user_id = ?1), ?4)), ?5
       WHERE true ON CONFLICT (user_id, id) DO NOTHING`,
  deleteSnapshot: "DELETE FROM snapshots WHERE user_id = ? AND id = ?",
  snapshots: `SELECT s.snapshot_no, s.id, b.id AS tree, s.stored_ms, s.record
       FROM snapshots AS s JOIN blobs AS b ON b.blob_no = s.tree_blob_no
       WHERE s.user_id = ? AND s.snapshot_no > ? ORDER BY s.snapshot_no LIMIT ?`,
  placement: `SELECT b.kind, b.offset, b.stored_length, b.raw_length, b.compression, p.name
       FROM blobs AS b JOIN packs AS p USING (pack_no) WHERE b.user_id = ? AND b.id = ?`,
  releaseSeq: "SELECT value FROM counters WHERE name = 'release_seq'",
  // A damaged blob keeps its row (its number, its references, what names it) without a place:
  // its bytes become dead space of its pack, and it charges its overhead only until healed.
  placed: `SELECT blob_no, pack_no, stored_length, refs > 0 OR unclaimed_ms IS NOT NULL AS charged
       FROM blobs WHERE user_id = ? AND id = ? AND pack_no <> ${DAMAGED_PACK_NO}`,
  damage: `UPDATE blobs SET pack_no = ${DAMAGED_PACK_NO}, offset = 0, stored_length = 0
       WHERE blob_no = ?`,
  packBytes: `UPDATE packs SET blob_bytes = blob_bytes + ?2, live_bytes = live_bytes + ?3
       WHERE pack_no = ?1`,
  userBytes: "UPDATE users SET blob_bytes = blob_bytes + ? WHERE user_id = ?",
  anyDamaged: `SELECT 1 FROM blobs WHERE pack_no = ${DAMAGED_PACK_NO} AND user_id = ? LIMIT 1`,
  damagedBelow: `WITH RECURSIVE reach(blob_no) AS (
         SELECT ?1 UNION SELECT r.ref_blob_no FROM tree_refs AS r JOIN reach USING (blob_no))
       SELECT b.id FROM reach JOIN blobs AS b USING (blob_no)
       WHERE b.pack_no = ${DAMAGED_PACK_NO} LIMIT ?2`,
} as const;

/** The index's code of a blob kind. */
const KIND_CODES: Record<BlobKind, number> = { data: 0, tree: 1 };

/** A blob a session wrote into a pack, as the index takes it. */
export interface PlacedBlob {
  id: Uint8Array;
  kind: BlobKind;
  /** The pack's object name, and where the blob's stored bytes start in it. */
  pack: string;
  offset: number;
  storedLength: number;
  rawLength: number;
  compression: BlobCompression;
  /**
   * Trees: the ids they name, back to back (32 bytes each): one array, not one per id, so a tree
   * waiting in a session for what it names costs its ids' bytes and no more.
   */
  refs?: Uint8Array;
}

/**
 * Packs' numbers and the bytes of blobs indexed into them not yet added to their rows, by name:
 * one lookup and one update per pack, not per blob (`indexBlob`, `countTallied`). Valid inside
 * one transaction only (a pack's number may be another's once one is undone).
 */
export type PackTally = Map<string, { packNo: number; bytes: number }>;

/** Where a stored blob is. */
export interface BlobPlacement {
  kind: BlobKind;
  pack: string;
  offset: number;
  storedLength: number;
  rawLength: number;
  compression: BlobCompression;
}

/** One snapshot row, with the page key. */
export interface SnapshotRow {
  snapshotNo: number;
  id: Uint8Array;
  tree: Uint8Array;
  storedMs: number;
  record: Uint8Array;
}

/** The snapshot tables of one index connection; see the module comment. */
export class SnapshotCatalog {
  readonly #sql: Record<keyof typeof SQL, StatementSync>;
  readonly #chunks: ChunkCatalog;

  /** @param chunks the chunk catalog of the same connection */
  constructor(chunks: ChunkCatalog) {
    this.#sql = chunks.prepare(SQL);
    this.#chunks = chunks;
  }

  /** The blob's number if the user has it indexed. */
  blobNo(userId: number, id: Uint8Array): number | undefined {
    return (this.#sql.findBlob.get(userId, id) as { blob_no: number } | undefined)?.blob_no;
  }

  /** Whether the blob of this number is sealed (an encrypted repository's). */
  sealed(blobNo: number): boolean {
    const row = this.#sql.compressionOf.get(blobNo) as { compression: number } | undefined;
    return row?.compression === COMPRESSION_SEALED;
  }

  /** The release counter now (`SessionStart.sinceSeq`). */
  releaseSeq(): number {
    return (this.#sql.releaseSeq.get() as { value: number } | undefined)?.value ?? 0;
  }

  /** Indexes a pack a session wrote (its row only; its blobs come with `indexBlob`). */
  indexPack(pack: WrittenPack, userId: number, nowMs: number): number {
    return this.#chunks.insertPack(pack, userId, nowMs);
  }

  /**
   * Indexes one blob, unclaimed as of `nowMs`, if every blob it references is indexed: then its
   * references are rows of `tree_refs`. A blob the user has already stays as it is. `from` is
   * where the last attempt found a reference lacking: the references from there are looked at
   * first, so a tree retried while it still waits costs one lookup, not one per reference. With
   * `tally`, the pack's number is looked up once per pack and its bytes are added by
   * `countTallied`, which the caller runs in the same transaction.
   *
   * @returns `-1` if the index has the blob now, else the position of a reference not indexed.
   */
  indexBlob(
    userId: number,
    blob: PlacedBlob,
    nowMs: number,
    from = 0,
    tally?: PackTally,
  ): number {
    const sql = this.#sql;
    const refs = blob.refs ?? new Uint8Array(0);
    const count = refs.length / SNAPSHOT_ID_BYTES;
    // A blob that names nothing is not looked up first: the insert's conflict tells the same.
    if (count > 0 && this.blobNo(userId, blob.id) !== undefined) return -1;
    // One lookup per reference, from `from` round to the one before it: the numbers found are
    // the rows' references (a tree of 30 names was 30 lookups to check, then 30 more to number).
    const refNos: number[] = new Array(count);
    for (let k = 0; k < count; k++) {
      const i = from + k < count ? from + k : from + k - count;
      const at = i * SNAPSHOT_ID_BYTES;
      const refNo = this.blobNo(userId, refs.subarray(at, at + SNAPSHOT_ID_BYTES));
      if (refNo === undefined) return i;
      refNos[i] = refNo;
    }
    let pack = tally?.get(blob.pack);
    if (!pack) {
      const packNo = (sql.findPack.get(blob.pack) as { pack_no: number } | undefined)?.pack_no;
      if (packNo === undefined) throw new Error(`pack ${blob.pack} is not indexed`);
      pack = { packNo, bytes: 0 };
      tally?.set(blob.pack, pack);
    }
    const packNo = pack.packNo;
    const { lastInsertRowid, changes } = sql.insertBlob.run(
      userId,
      blob.id,
      packNo,
      blob.offset,
      blob.storedLength,
      blob.rawLength,
      compressionCode(blob.compression),
      KIND_CODES[blob.kind],
      nowMs,
    );
    if (Number(changes) === 0) {
      // The user had it (another session indexed it), or had it damaged: then this copy heals it.
      if (this.#chunks.heal(userId, blob, packNo)) {
        if (tally) pack.bytes += blob.storedLength;
        else sql.countBlobBytes.run(blob.storedLength, packNo);
      }
      return -1;
    }
    if (tally) pack.bytes += blob.storedLength;
    else sql.countBlobBytes.run(blob.storedLength, packNo);
    refNos.forEach((refNo, seq) => sql.insertRef.run(lastInsertRowid, seq, refNo));
    return -1;
  }

  /**
   * Marks a blob of the user damaged (`SnapshotRepository.dropBlobs`): it keeps its row, its
   * references and what names it, but no place, so that `blobNo` and `placement` find it no more
   * and a session's copy of it (`indexBlob`) heals it. Its bytes become dead space of its pack,
   * uncharged from the pack's and the user's counts. Run inside a transaction.
   *
   * @returns whether the user had it with a place.
   */
  markDamaged(userId: number, id: Uint8Array): boolean {
    const sql = this.#sql;
    const row = sql.placed.get(userId, id) as {
      blob_no: number;
      pack_no: number;
      stored_length: number;
      charged: number;
    } | undefined;
    if (!row) return false;
    sql.damage.run(row.blob_no);
    const live = row.charged === 1 ? row.stored_length : 0;
    sql.packBytes.run(row.pack_no, -row.stored_length, -live);
    if (live > 0) sql.userBytes.run(-live, userId);
    return true;
  }

  /** Whether the user has a damaged blob (then commits look for it below their snapshot). */
  anyDamaged(userId: number): boolean {
    return this.#sql.anyDamaged.get(userId) !== undefined;
  }

  /** The damaged blobs the tree numbered `treeNo` reaches (itself included), `limit` at most. */
  damagedBelow(treeNo: number, limit: number): Uint8Array[] {
    const rows = this.#sql.damagedBelow.all(treeNo, limit) as Array<{ id: Uint8Array }>;
    return rows.map((row) => row.id);
  }

  /** Adds the bytes of blobs `indexBlob` counted in `tally` to their packs' rows; empties it. */
  countTallied(tally: PackTally): void {
    for (const { packNo, bytes } of tally.values()) {
      if (bytes > 0) this.#sql.countBlobBytes.run(bytes, packNo);
    }
    tally.clear();
  }

  /**
   * Charges `bytes` of blobs a session dropped (never indexed) to a pack it wrote: dead space,
   * counted against the pack's user until garbage collection removes the pack (schema 6's
   * `pack_dropped_charged` and `pack_dropped_uncharged`).
   */
  chargeDropped(pack: string, bytes: number): void {
    this.#sql.chargeDropped.run(bytes, pack);
  }

  /** Inserts a snapshot on its indexed root tree; one that exists already stays as it is. */
  insertSnapshot(
    userId: number,
    snapshot: { id: Uint8Array; treeNo: number; record: Uint8Array },
    nowMs: number,
  ): void {
    this.#sql.insertSnapshot.run(userId, snapshot.id, snapshot.treeNo, nowMs, snapshot.record);
  }

  /** Removes a snapshot; returns whether there was one. */
  deleteSnapshot(userId: number, id: Uint8Array): boolean {
    return Number(this.#sql.deleteSnapshot.run(userId, id).changes) > 0;
  }

  /** The user's snapshots after `afterNo`, in the order stored, `limit` at most. */
  snapshots(userId: number, afterNo: number, limit: number): SnapshotRow[] {
    const rows = this.#sql.snapshots.all(userId, afterNo, limit) as Array<{
      snapshot_no: number;
      id: Uint8Array;
      tree: Uint8Array;
      stored_ms: number;
      record: Uint8Array;
    }>;
    return rows.map((row) => ({
      snapshotNo: row.snapshot_no,
      id: row.id,
      tree: row.tree,
      storedMs: row.stored_ms,
      record: row.record,
    }));
  }

  /** Where a blob of the user is, or `undefined`. */
  placement(userId: number, id: Uint8Array): BlobPlacement | undefined {
    const row = this.#sql.placement.get(userId, id) as {
      kind: number;
      offset: number;
      stored_length: number;
      raw_length: number;
      compression: number;
      name: string;
    } | undefined;
    return row && {
      kind: row.kind === KIND_CODES.tree ? "tree" : "data",
      pack: row.name,
      offset: row.offset,
      storedLength: row.stored_length,
      rawLength: row.raw_length,
      compression: compressionOf(row.compression),
    };
  }
}
