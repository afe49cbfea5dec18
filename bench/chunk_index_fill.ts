/**
 * A root whose index holds many chunks for one user, made synthetically: writing 1,000,000 real
 * chunks through the server would mean 500 GB of uploads. The real engine opens the root first (so
 * the schema, the repository folder and the log are its own), then one transaction inserts the rows
 * through the real tables, so that the schema's triggers keep `refs`, the packs' `live_bytes` and
 * the user's totals exactly as uploads would: packs of 30 chunks named `packs/xx/<32 hex>`, chunks of
 * the chunker's average size with random 32-byte ids, and versions of 1 GiB (2,048 chunks) each
 * naming its own chunks. The pack objects are not written: nothing reads them unless a version
 * made here is retrieved or verified, and garbage collection finds nothing to do (every chunk is
 * referenced, no pack is garbage).
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { AVERAGE_CHUNK_SIZE } from "../chunking/fastcdc.ts";
import { toHex } from "../common/hex.ts";
import { EmbeddedStorage } from "../storage/embedded/engine.ts";
import { INDEX_FILE_NAME } from "../storage/embedded/options.ts";
import { PACK_ENTRY_BYTES, PACK_TRAILER_BYTES } from "../repository/pack_format.ts";

/** Chunks in each synthetic pack: about a 16 MiB pack of average-size chunks. */
export const CHUNKS_PER_PACK = 30;
/** Chunks in each synthetic version: a 1 GiB file of average-size chunks. */
export const CHUNKS_PER_VERSION = 2048;

/** What `fillChunkIndex` made. */
export interface FillReport {
  chunks: number;
  packs: number;
  versions: number;
  /** Time of the inserts and the checkpoint, the engine's first open left out. */
  ms: number;
  /** Size of `index.sqlite` afterwards. */
  indexBytes: number;
}

/**
 * Opens `root` (new or empty) with the engine, then indexes `chunks` chunks of `userId` in one
 * transaction; see the module comment.
 */
export async function fillChunkIndex(
  root: string,
  userId: number,
  chunks: number,
): Promise<FillReport> {
  const { storage } = await EmbeddedStorage.open({ root });
  await storage.close();
  const path = `${root}/${INDEX_FILE_NAME}`;
  const started = performance.now();
  const db = new DatabaseSync(path);
  let packs = 0;
  let versions = 0;
  try {
    // This process's own connection: no fsync until the end, a large cache for the random ids.
    db.exec("PRAGMA synchronous = OFF; PRAGMA cache_size = -262144;");
    const insertPack = db.prepare(
      `INSERT INTO packs (name, user_id, size, data_bytes, blob_bytes, written_ms)
       VALUES (?, ?, ?, ?, ?, ?) RETURNING pack_no`,
    );
    const insertBlob = db.prepare(
      `INSERT INTO blobs (user_id, id, pack_no, offset, stored_length, raw_length, compression)
       VALUES (?, ?, ?, ?, ?, ?, 0) RETURNING blob_no`,
    );
    // As `storage/embedded/statements.ts` inserts a chunked version: the id from `counters`.
    const insertVersion = db.prepare(
      `INSERT INTO versions (id, user_id, name, current, size, mtime_ms, mode, sha256, stored_ms,
         content, data_file, chunk_count)
       VALUES ((SELECT value FROM counters WHERE name = 'next_version_id'),
         ?, ?, 1, ?, ?, NULL, ?, ?, x'', NULL, ?) RETURNING id`,
    );
    const insertChunk = db.prepare(
      "INSERT INTO version_chunks (version_id, seq, blob_no) VALUES (?, ?, ?)",
    );
    const now = Date.now();
    const random = new Uint8Array(32 * 1024);
    let packNo = 0;
    let versionId = 0;
    db.exec("BEGIN IMMEDIATE");
    for (let i = 0; i < chunks; i++) {
      if (i % 1024 === 0) crypto.getRandomValues(random);
      const id = random.slice((i % 1024) * 32, (i % 1024 + 1) * 32);
      const inPack = i % CHUNKS_PER_PACK;
      if (inPack === 0) {
        const count = Math.min(CHUNKS_PER_PACK, chunks - i);
        const data = count * AVERAGE_CHUNK_SIZE;
        const size = data + count * PACK_ENTRY_BYTES + PACK_TRAILER_BYTES;
        const hex = toHex(crypto.getRandomValues(new Uint8Array(16)));
        const row = insertPack.get(
          `packs/${hex.slice(0, 2)}/${hex}`,
          userId,
          size,
          data,
          data,
          now,
        );
        packNo = Number(row!.pack_no);
        packs++;
      }
      const seq = i % CHUNKS_PER_VERSION;
      if (seq === 0) {
        const count = Math.min(CHUNKS_PER_VERSION, chunks - i);
        const name = `synthetic/file-${String(versions).padStart(6, "0")}.bin`;
        const sha256 = crypto.getRandomValues(new Uint8Array(32));
        const row = insertVersion.get(
          userId,
          new TextEncoder().encode(name),
          count * AVERAGE_CHUNK_SIZE,
          now,
          sha256,
          now,
          count,
        );
        versionId = Number(row!.id);
        versions++;
      }
      const blob = insertBlob.get(
        userId,
        id,
        packNo,
        inPack * AVERAGE_CHUNK_SIZE,
        AVERAGE_CHUNK_SIZE,
        AVERAGE_CHUNK_SIZE,
      );
      insertChunk.run(versionId, seq, Number(blob!.blob_no));
    }
    db.exec("COMMIT");
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  } finally {
    db.close();
  }
  const ms = performance.now() - started;
  return { chunks, packs, versions, ms, indexBytes: (await Deno.stat(path)).size };
}
