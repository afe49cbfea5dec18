/**
 * The read-only questions `verify` asks the index, on its own connection. Each is one statement,
 * so each answer is one consistent moment of the index; pages are keyed by row id, so no read
 * transaction outlives a page (a running server's log is never held back for long).
 *
 * @module
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { prepareAll } from "./statements.ts";

/** Rows per page of versions: small, since small files' bytes come with their rows. */
export const VERSION_PAGE_ROWS = 64;
/** Rows per page of packs. */
export const PACK_PAGE_ROWS = 64;
/** Most blob problems one check of the chunk bookkeeping reports. */
export const MAX_BLOB_PROBLEMS = 1000;

/** A version's row, with the shape of its chunk list when it has one. */
export interface VersionRow {
  id: number;
  user_id: number;
  name: Uint8Array;
  current: number;
  size: number;
  sha256: Uint8Array;
  content: Uint8Array | null;
  data_file: string | null;
  chunk_count: number | null;
  /** Entries of its chunk list (null unless chunked). */
  entries: number | null;
  /** Lowest and highest `seq` of its list (null if empty or not chunked). */
  first_seq: number | null;
  last_seq: number | null;
  /** Entries naming no blob of the version's user. */
  dangling: number | null;
  /** What the raw lengths of its chunks add up to (null unless chunked). */
  raw_bytes: number | null;
}

/** A pack's row, with what its indexed blobs add up to. */
export interface PackRow {
  pack_no: number;
  name: string;
  user_id: number;
  size: number;
  blob_bytes: number;
  live_bytes: number;
  indexed_bytes: number;
  live_indexed_bytes: number;
  foreign_blobs: number;
}

/** A blob's row as the index has it. */
export interface BlobRow {
  blob_no: number;
  id: Uint8Array;
  offset: number;
  stored_length: number;
  raw_length: number;
  compression: number;
}

/** A blob whose bookkeeping is wrong. */
export interface BadBlobRow {
  blob_no: number;
  id: Uint8Array;
  pack_no: number;
  refs: number;
  /** Chunk-list entries that name it. */
  named: number;
  /** 1 if its pack has no row. */
  packless: number;
}

/** A version, as a report names it. */
export interface VersionName {
  id: number;
  user_id: number;
  name: Uint8Array;
  current: number;
}

/**
 * Every row that counts in a blob's `refs`: chunk list entries, and from schema 6 on the
 * references of trees and the root of each snapshot (`schema_snapshots.ts`).
 */
const NAMING_ROWS = `SELECT blob_no FROM version_chunks
  UNION ALL SELECT ref_blob_no FROM tree_refs UNION ALL SELECT tree_blob_no FROM snapshots`;
/** The first schema with snapshots. */
const SNAPSHOTS_SCHEMA = 6;

/**
 * The statements, for all users or for one (`?2`). An index older than schema 5 (a root the new
 * server has not opened yet) has no chunks: its versions read with none, and the chunk questions
 * are not asked (`VerifyQueries` answers them as an empty repository would).
 */
function sql(byUser: boolean, chunks: boolean, snapshots: boolean) {
  const userOf = (table: string) => byUser ? `AND ${table}.user_id = ?2` : "";
  const chunked = (column: string) =>
    chunks ? `CASE WHEN v.chunk_count IS NULL THEN NULL ELSE (${column}) END` : "NULL";
  return {
    versions: `SELECT v.id, v.user_id, v.name, v.current, v.size, v.sha256, v.content, v.data_file,
        ${chunks ? "v.chunk_count" : "NULL AS chunk_count"},
        ${chunked("SELECT count(*) FROM version_chunks AS c WHERE c.version_id = v.id")} AS entries,
        ${
      chunked("SELECT min(seq) FROM version_chunks AS c WHERE c.version_id = v.id")
    } AS first_seq,
        ${
      chunked("SELECT max(seq) FROM version_chunks AS c WHERE c.version_id = v.id")
    } AS last_seq,
        ${
      chunked(`SELECT count(*) FROM version_chunks AS c WHERE c.version_id = v.id
          AND NOT EXISTS (SELECT 1 FROM blobs AS b WHERE b.blob_no = c.blob_no
            AND b.user_id = v.user_id)`)
    } AS dangling,
        ${
      chunked(`SELECT coalesce(sum(b.raw_length), 0) FROM version_chunks AS c
          JOIN blobs AS b USING (blob_no) WHERE c.version_id = v.id`)
    } AS raw_bytes
      FROM versions AS v WHERE v.id > ?1 ${userOf("v")} ORDER BY v.id LIMIT ${VERSION_PAGE_ROWS}`,
    versionStillThere: "SELECT 1 FROM versions WHERE id = ?",
    packCount: `SELECT count(*) AS n FROM packs AS p WHERE p.pack_no > ?1 ${userOf("p")}`,
    packs: `SELECT p.pack_no, p.name, p.user_id, p.size, p.blob_bytes, p.live_bytes,
        (SELECT coalesce(sum(stored_length), 0) FROM blobs AS b WHERE b.pack_no = p.pack_no)
          AS indexed_bytes,
        (SELECT coalesce(sum(stored_length), 0) FROM blobs AS b WHERE b.pack_no = p.pack_no
          AND (b.refs > 0 ${
      snapshots ? "OR b.unclaimed_ms IS NOT NULL" : ""
    })) AS live_indexed_bytes,
        (SELECT count(*) FROM blobs AS b WHERE b.pack_no = p.pack_no AND b.user_id <> p.user_id)
          AS foreign_blobs
      FROM packs AS p WHERE p.pack_no > ?1 ${userOf("p")} ORDER BY p.pack_no
      LIMIT ${PACK_PAGE_ROWS}`,
    packStillThere: "SELECT 1 FROM packs WHERE pack_no = ? AND name = ?",
    packIndexed: "SELECT 1 FROM packs WHERE name = ?",
    blobsIn: `SELECT blob_no, id, offset, stored_length, raw_length, compression FROM blobs
      WHERE pack_no = ? ORDER BY offset`,
    // One statement over the whole chunk tables (no index by blob in the lists): refs and the
    // entries that name each blob must be seen at one moment, or a commit in between would look
    // like a wrong count.
    badBlobs: `SELECT b.blob_no, b.id, b.pack_no, b.refs, coalesce(n.named, 0) AS named,
        (p.pack_no IS NULL) AS packless
      FROM blobs AS b
      LEFT JOIN (SELECT blob_no, count(*) AS named FROM (${
      snapshots ? NAMING_ROWS : "SELECT blob_no FROM version_chunks"
    }) GROUP BY blob_no) AS n
        USING (blob_no)
      LEFT JOIN packs AS p ON p.pack_no = b.pack_no
      WHERE (b.refs <> coalesce(n.named, 0) OR p.pack_no IS NULL) ${userOf("b")}
      ORDER BY b.blob_no LIMIT ${MAX_BLOB_PROBLEMS}`,
    versionsNaming: `SELECT DISTINCT v.id, v.user_id, v.name, v.current FROM version_chunks AS c
      JOIN versions AS v ON v.id = c.version_id
      WHERE c.blob_no IN (SELECT value FROM json_each(?1)) ORDER BY v.id`,
  } as const;
}

type Statements = Record<keyof ReturnType<typeof sql>, StatementSync>;

/** The schema that added the chunk tables. */
const CHUNKS_SCHEMA = 5;

/** The statements of one verify run; see the module comment. */
export class VerifyQueries {
  readonly #sql: Statements;
  readonly #userId: number | undefined;
  /** Whether the index has the chunk tables. */
  readonly chunked: boolean;

  /**
   * @param db a read-only connection to the index
   * @param userId only this user's versions, packs and blobs
   */
  constructor(db: DatabaseSync, userId?: number) {
    this.#userId = userId;
    const { user_version: schema } = db.prepare("PRAGMA user_version").get() as {
      user_version: number;
    };
    this.chunked = schema >= CHUNKS_SCHEMA;
    const statements = Object.entries(
      sql(userId !== undefined, this.chunked, schema >= SNAPSHOTS_SCHEMA),
    )
      .filter(([name]) => this.chunked || name === "versions" || name === "versionStillThere");
    this.#sql = prepareAll(db, Object.fromEntries(statements)) as Statements;
  }

  /** Arguments of a paged statement: the key to start after, and the user if there is one. */
  #paged(after: number): number[] {
    return this.#userId === undefined ? [after] : [after, this.#userId];
  }

  /** Versions after id `after`, in id order, a page at most. */
  versions(after: number): VersionRow[] {
    return this.#sql.versions.all(...this.#paged(after)) as unknown as VersionRow[];
  }

  /** Whether a version is still in the index. */
  versionStillThere(versionId: number): boolean {
    return this.#sql.versionStillThere.get(versionId) !== undefined;
  }

  /** How many packs there are after pack number `after`. */
  packCount(after = 0): number {
    if (!this.chunked) return 0;
    return (this.#sql.packCount.get(...this.#paged(after)) as { n: number }).n;
  }

  /** Packs after pack number `after`, a page at most. */
  packs(after: number): PackRow[] {
    if (!this.chunked) return [];
    return this.#sql.packs.all(...this.#paged(after)) as unknown as PackRow[];
  }

  /** Whether a pack's row is still there (garbage collection may have removed it meanwhile). */
  packStillThere(pack: PackRow): boolean {
    return this.#sql.packStillThere.get(pack.pack_no, pack.name) !== undefined;
  }

  /** Whether a pack object's name has a row. */
  packIndexed(name: string): boolean {
    if (!this.chunked) return false;
    return this.#sql.packIndexed.get(name) !== undefined;
  }

  /** The blobs indexed in a pack, by offset. */
  blobsIn(packNo: number): BlobRow[] {
    return this.#sql.blobsIn.all(packNo) as unknown as BlobRow[];
  }

  /** Blobs whose `refs` is not the count of entries naming them, or whose pack has no row. */
  badBlobs(): BadBlobRow[] {
    if (!this.chunked) return [];
    const args = this.#userId === undefined ? [] : [0, this.#userId];
    return this.#sql.badBlobs.all(...args) as unknown as BadBlobRow[];
  }

  /** The versions whose chunk lists name any of `blobNos`. */
  versionsNaming(blobNos: readonly number[]): VersionName[] {
    return this.#sql.versionsNaming.all(JSON.stringify(blobNos)) as unknown as VersionName[];
  }
}
