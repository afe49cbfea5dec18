/**
 * What a root holds, read straight from its index, data folder and packs, for tests and harnesses that
 * assert what is stored.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { DATA_DIR_NAME } from "../storage/embedded/data_files.ts";
import { INDEX_FILE_NAME, REPOSITORY_DIR_NAME } from "../storage/embedded/engine.ts";
import { ChunkCatalog } from "../storage/embedded/chunk_catalog.ts";
import type { Placement } from "../repository/chunked_source.ts";
import { decodeBlob, encodeBlob } from "../repository/blob_codec.ts";
import { chunkBoundaries } from "../chunking/fastcdc.ts";
import { BLOB_OVERHEAD_BYTES } from "../storage/quota_charge.ts";
import { createHash } from "node:crypto";

const decoder = new TextDecoder();

/** Runs `read` on a read-only connection to the root's index. */
function withIndex<T>(root: string, read: (db: DatabaseSync) => T): T {
  const db = new DatabaseSync(`${root}/${INDEX_FILE_NAME}`, { readOnly: true });
  try {
    return read(db);
  } finally {
    db.close();
  }
}

/** Every current file as `<user id>/<name>`, sorted: the new layout's `filesUnder(root)`. */
export function storedNames(root: string): string[] {
  return withIndex(
    root,
    (db) =>
      (db.prepare("SELECT user_id, name FROM versions WHERE current = 1").all() as Array<
        { user_id: number; name: Uint8Array }
      >).map((row) => `${row.user_id}/${decoder.decode(row.name)}`).sort(),
  );
}

/** The bytes of a current file, from the index, its chunks or its data file; `undefined` if none. */
export function storedBytes(root: string, userId: number, name: string): Uint8Array | undefined {
  return withIndex(root, (db) => {
    const row = db.prepare(
      `SELECT id, content, data_file, chunk_count FROM versions
       WHERE user_id = ? AND name = ? AND current = 1`,
    ).get(userId, new TextEncoder().encode(name)) as
      | {
        id: number;
        content: Uint8Array | null;
        data_file: string | null;
        chunk_count: number | null;
      }
      | undefined;
    if (!row) return undefined;
    if (row.chunk_count !== null) return chunkedBytes(root, db, userId, row.id);
    if (row.content) return row.content;
    return Deno.readFileSync(dataFileOf(root, userId, name)!);
  });
}

/** A chunked version's bytes, read straight from its packs. */
function chunkedBytes(
  root: string,
  db: DatabaseSync,
  userId: number,
  versionId: number,
): Uint8Array {
  const chunks = new ChunkCatalog(db).placements(userId, versionId, 0, Number.MAX_SAFE_INTEGER);
  const parts = chunks.map((chunk) => {
    using file = Deno.openSync(`${root}/${REPOSITORY_DIR_NAME}/${chunk.pack}`);
    file.seekSync(chunk.offset, Deno.SeekMode.Start);
    const stored = new Uint8Array(chunk.storedLength);
    for (let at = 0; at < stored.length;) at += file.readSync(stored.subarray(at)) ?? stored.length;
    return decodeBlob(stored, chunk.compression, chunk.rawLength);
  });
  const bytes = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) bytes.set(part, (at += part.length) - part.length);
  return bytes;
}

/** How many versions (current and past) the index holds. */
export function versionCount(root: string): number {
  return withIndex(
    root,
    (db) => (db.prepare("SELECT count(*) AS n FROM versions").get() as { n: number }).n,
  );
}

/**
 * Every file that holds stored bytes under the root, as a path from the root, sorted: data files
 * (`data/<shard>/<name>`, written before the repository) and packs (`repo/packs/<shard>/<name>`),
 * temp files of packs being put included.
 */
export async function storedFiles(root: string): Promise<string[]> {
  const found: string[] = [];
  for (const top of [DATA_DIR_NAME, `${REPOSITORY_DIR_NAME}/packs`]) {
    let shards: Deno.DirEntry[];
    try {
      shards = await Array.fromAsync(Deno.readDir(`${root}/${top}`));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) continue;
      throw error;
    }
    for (const shard of shards) {
      for await (const file of Deno.readDir(`${root}/${top}/${shard.name}`)) {
        found.push(`${top}/${shard.name}/${file.name}`);
      }
    }
  }
  return found.sort();
}

/** The stored files no version points to: uploads in progress, or leftovers. */
export async function unreferencedFiles(root: string): Promise<string[]> {
  const referenced = new Set(withIndex(root, (db) => [
    ...(db.prepare("SELECT data_file FROM versions WHERE data_file IS NOT NULL").all() as Array<
      { data_file: string }
    >).map((row) => `${DATA_DIR_NAME}/${row.data_file.slice(0, 2)}/${row.data_file}`),
    ...(db.prepare("SELECT name FROM packs").all() as Array<{ name: string }>).map((row) =>
      `${REPOSITORY_DIR_NAME}/${row.name}`
    ),
  ]));
  return (await storedFiles(root)).filter((file) => !referenced.has(file));
}

/** The path of a current file's data file; `undefined` if it has none. */
export function dataFileOf(root: string, userId: number, name: string): string | undefined {
  const row = withIndex(
    root,
    (db) =>
      db.prepare("SELECT data_file FROM versions WHERE user_id = ? AND name = ? AND current = 1")
        .get(userId, new TextEncoder().encode(name)),
  ) as { data_file: string | null } | undefined;
  const file = row?.data_file;
  return file ? `${root}/${DATA_DIR_NAME}/${file.slice(0, 2)}/${file}` : undefined;
}

/** A chunk of a current file where the index places it, with its pack's path. */
export type ChunkPlace = Placement & { path: string };

/** The chunks of a current file, in order, where the index places them; empty if not chunked. */
export function chunksOf(root: string, userId: number, name: string): ChunkPlace[] {
  return withIndex(root, (db) => {
    const row = db.prepare(
      "SELECT id FROM versions WHERE user_id = ? AND name = ? AND current = 1",
    ).get(userId, new TextEncoder().encode(name)) as { id: number } | undefined;
    if (!row) return [];
    const chunks = new ChunkCatalog(db).placements(userId, row.id, 0, Number.MAX_SAFE_INTEGER);
    return chunks.map((chunk) => ({
      ...chunk,
      path: `${root}/${REPOSITORY_DIR_NAME}/${chunk.pack}`,
    }));
  });
}

/** The paths of the packs that hold a current file's chunks, in the order of its chunks, each once. */
export function packsOf(root: string, userId: number, name: string): string[] {
  return [...new Set(chunksOf(root, userId, name).map((chunk) => chunk.path))];
}

/**
 * What storing `contents` as new chunks charges a user's quota (each distinct chunk's stored bytes
 * after compression, plus `BLOB_OVERHEAD_BYTES`), as the repository cuts them: the files' bytes
 * in usage when they are larger than the inline limit.
 */
export function chunkedCharge(...contents: Uint8Array[]): number {
  const seen = new Set<string>();
  let charge = 0;
  for (const content of contents) {
    let start = 0;
    for (const end of chunkBoundaries(content)) {
      const chunk = content.subarray(start, end);
      start = end;
      const id = createHash("sha256").update(chunk).digest("hex");
      if (seen.has(id)) continue;
      seen.add(id);
      charge += encodeBlob(chunk).stored.length + BLOB_OVERHEAD_BYTES;
    }
  }
  return charge;
}
