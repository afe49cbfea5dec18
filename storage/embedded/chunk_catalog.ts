/**
 * The index's side of the repository (schema 5): which chunks (blobs) a user has and where, which
 * chunks each version is made of, and which packs exist. Lookups pin what they find, so that
 * garbage collection never removes a chunk an upload in flight counts on; changes run inside the
 * transaction of the version they belong to.
 *
 * @module
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { prepareAll } from "./statements.ts";
import { toHex } from "../../common/hex.ts";
import { CHUNK_ID_BYTES, type ChunkedFile } from "../../repository/chunked_writer.ts";
import type { WrittenPack } from "../../repository/pack_writer.ts";
import type { Placement } from "../../repository/chunked_source.ts";
import { CorruptStoreError } from "../storage.ts";
import { SessionPins } from "./session_pins.ts";
import { ActiveReads, ChunkPins } from "./chunk_pins.ts";
import { DAMAGED_PACK_NO, SQL, type Statements } from "./chunk_sql.ts";
import {
  type BlobFound,
  type BlobRow,
  compressionCode,
  compressionOf,
  dataBytesOf,
  type PackedBlob,
  packedBlobOf,
  refuseSealed,
} from "./chunk_rows.ts";

export { ActiveReads, ChunkPins, compressionCode, compressionOf, DAMAGED_PACK_NO, type PackedBlob };

/** A pack as garbage collection sees it. */
export interface PackRow {
  packNo: number;
  name: string;
  userId: number;
  size: number;
}

/** The chunk tables of one index connection; see the module comment. */
export class ChunkCatalog {
  readonly #sql: Statements;
  readonly pins = new ChunkPins();
  readonly reads = new ActiveReads();
  /** Open snapshot sessions: garbage collection keeps what they may rely on. */
  readonly sessions = new SessionPins();
  readonly #db: DatabaseSync;

  /** @param db the index's connection (schema 6) */
  constructor(db: DatabaseSync) {
    this.#db = db;
    this.#sql = prepareAll(db, SQL);
  }

  /** Prepares statements on the index's connection (the snapshot tables' own, `snapshot_catalog.ts`). */
  prepare<Names extends string>(sql: Record<Names, string>): Record<Names, StatementSync> {
    return prepareAll(this.#db, sql);
  }

  /**
   * Whether the user has a chunk with this id; if so it is pinned, its key added to `pinned`.
   *
   * @throws {SealedChunkError} if the id is one of the user's sealed blobs.
   */
  holds(userId: number, id: Uint8Array, pinned: string[]): boolean {
    const found = this.#sql.findBlob.get(userId, id) as BlobFound | undefined;
    if (found === undefined) return false;
    refuseSealed(userId, id, found);
    pinned.push(this.pins.pin(userId, id));
    return true;
  }

  /**
   * Indexes a new version's chunks and the packs its upload wrote; run inside the transaction that
   * inserts the version. A chunk the packs hold that another upload indexed first stays in its
   * pack unreferenced (garbage collection takes it).
   *
   * @throws {CorruptStoreError} if a chunk the upload counted on is not indexed.
   * @throws {SealedChunkError} if a chunk's id is one of the user's sealed blobs (stored since the
   *   upload looked: the version is not made).
   */
  index(userId: number, versionId: number, file: ChunkedFile, nowMs: number): void {
    const sql = this.#sql;
    for (const pack of file.packs) {
      const packNo = this.insertPack(pack, userId, nowMs);
      let blobBytes = 0;
      for (const blob of pack.blobs) {
        const { changes } = sql.insertBlob.run(
          userId,
          blob.id,
          packNo,
          blob.offset,
          blob.storedLength,
          blob.rawLength,
          compressionCode(blob.compression),
        );
        if (changes > 0 || this.heal(userId, blob, packNo)) blobBytes += blob.storedLength;
      }
      sql.countBlobBytes.run(blobBytes, packNo);
    }
    for (let seq = 0; seq < file.count; seq++) {
      const id = file.ids.subarray(seq * CHUNK_ID_BYTES, (seq + 1) * CHUNK_ID_BYTES);
      const found = sql.findBlob.get(userId, id) as BlobFound | undefined;
      if (!found) throw new CorruptStoreError(`chunk ${toHex(id)} of a new version is not stored`);
      refuseSealed(userId, id, found);
      sql.insertChunk.run(versionId, seq, found.blob_no);
    }
  }

  /**
   * Where the chunks of a version of `userId` are, from `fromSeq` on, `limit` at most, in order
   * (only that user's chunks, whatever the rows say).
   */
  placements(userId: number, versionId: number, fromSeq: number, limit: number): Placement[] {
    const rows = this.#sql.placements.all(versionId, fromSeq, limit, userId) as unknown as Array<
      BlobRow & { seq: number; pack: string }
    >;
    return rows.map((row) => ({ ...packedBlobOf(row), seq: row.seq, pack: row.pack }));
  }

  /**
   * Forgets the lists of removed versions that nobody reads now, `limit` rows at most.
   *
   * @returns how many rows were forgotten.
   */
  forgetReleased(limit: number): number {
    const reading = JSON.stringify(this.reads.versions());
    return Number(this.#sql.forgetReleased.run(reading, limit).changes);
  }

  /**
   * Removes blobs nothing names (no version, tree or snapshot), no reader needs, no upload counts
   * on and no open session may rely on (`SessionPins`), looking at `limit` of them after blob
   * number `after`. `graceStartMs` is now less the grace period: a blob indexed unclaimed (by a
   * session that did not commit) goes only once indexed before it, and sessions opened before it
   * pin no released blob any more.
   *
   * @returns how many were removed, and the last blob number looked at (`undefined`: no more).
   */
  removeUnreferenced(
    after: number,
    limit: number,
    graceStartMs: number,
  ): { removed: number; last?: number } {
    const rows = this.#sql.unreferenced.all(
      after,
      limit,
      this.sessions.releasedJson(graceStartMs),
      graceStartMs,
    ) as Array<{
      blob_no: number;
      user_id: number;
      id: Uint8Array;
    }>;
    let removed = 0;
    for (const row of rows) {
      if (this.pins.pinned(row.user_id, row.id)) continue;
      removed += Number(this.#sql.removeBlob.run(row.blob_no).changes);
    }
    return { removed, last: rows.length < limit ? undefined : rows.at(-1)!.blob_no };
  }

  /**
   * Removes the rows of packs that hold no chunk any more and no open session wrote, `limit` at
   * most; returns their names and users.
   */
  removeEmptyPacks(limit: number): Array<{ name: string; userId: number }> {
    const rows = this.#sql.emptyPacks.all(limit, this.sessions.packsJson()) as Array<
      { pack_no: number; name: string; user_id: number }
    >;
    for (const row of rows) this.#sql.removePack.run(row.pack_no);
    return rows.map((row) => ({ name: row.name, userId: row.user_id }));
  }

  /**
   * Packs whose live bytes are under `liveShare` of their chunks' bytes and that no open session
   * wrote, emptiest first, `limit` at most.
   */
  wastefulPacks(liveShare: number, limit: number): PackRow[] {
    const [numerator, denominator] = [Math.round(liveShare * 1000), 1000];
    const rows = this.#sql.wastefulPacks.all(
      denominator,
      numerator,
      limit,
      this.sessions.packsJson(),
    ) as Array<{
      pack_no: number;
      name: string;
      user_id: number;
      size: number;
    }>;
    return rows.map((row) => ({
      packNo: row.pack_no,
      name: row.name,
      userId: row.user_id,
      size: row.size,
    }));
  }

  /** The chunks indexed in a pack, in pack order. */
  blobsIn(packNo: number): PackedBlob[] {
    return (this.#sql.blobsIn.all(packNo) as unknown as BlobRow[]).map(packedBlobOf);
  }

  /**
   * Points the chunks of `old` that `copies` hold at their copies, indexes the copies' packs, and
   * removes `old`'s row if it holds nothing more; run inside a transaction.
   *
   * @returns whether `old` is now unindexed (its object may go).
   */
  moveBlobs(old: PackRow, copies: readonly WrittenPack[], nowMs: number): boolean {
    const sql = this.#sql;
    for (const pack of copies) {
      const packNo = this.insertPack(pack, old.userId, nowMs);
      for (const blob of pack.blobs) {
        sql.moveBlob.run(packNo, blob.offset, old.userId, blob.id, old.packNo);
      }
      sql.recount.run(packNo);
    }
    sql.recount.run(old.packNo);
    if (sql.packHasBlobs.get(old.packNo) !== undefined) return false;
    sql.removePack.run(old.packNo);
    return true;
  }

  /**
   * Gives a blob of the user dropped as damaged (`SnapshotCatalog.markDamaged`) its copy's place
   * in `packNo`: its row, references and referrers stay; it counts as live in that pack and
   * against the user again if anything names it. The caller adds its bytes to the pack's
   * `blob_bytes`, as for a blob inserted. Run inside a transaction.
   *
   * @returns whether the user had it damaged.
   */
  heal(userId: number, blob: Omit<PackedBlob, "kind">, packNo: number): boolean {
    const row = this.#sql.heal.get(
      userId,
      blob.id,
      packNo,
      blob.offset,
      blob.storedLength,
      blob.rawLength,
      compressionCode(blob.compression),
    ) as { charged: number } | undefined;
    if (!row) return false;
    if (row.charged === 1) {
      this.#sql.healedLive.run(blob.storedLength, packNo);
      this.#sql.healedCharge.run(blob.storedLength, userId);
    }
    return true;
  }

  /** Inserts a written pack's row (its blobs' rows come after); returns its number. */
  insertPack(pack: WrittenPack, userId: number, nowMs: number): number {
    const row = this.#sql.insertPack.get(pack.name, userId, pack.size, dataBytesOf(pack), nowMs);
    return (row as { pack_no: number }).pack_no;
  }

  /** Whether a pack is in the index (an upload whose commit failed may have left it out). */
  indexed(packName: string): boolean {
    return this.#sql.packIndexed.get(packName) !== undefined;
  }
}
