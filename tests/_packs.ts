/**
 * Where a root's chunks are, read straight from its index, for tests that damage packs on disk.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { INDEX_FILE_NAME, REPOSITORY_DIR_NAME } from "../storage/embedded/options.ts";

/** One chunk of a version, where the index places it. */
export interface ChunkPlace {
  seq: number;
  id: Uint8Array;
  /** The pack's object name. */
  pack: string;
  /** The pack's file. */
  path: string;
  offset: number;
  storedLength: number;
  compression: "none" | "zstd";
}

/** The chunks of a user's current file, in order; empty if it is not chunked. */
export function chunksOf(root: string, userId: number, name: string): ChunkPlace[] {
  const db = new DatabaseSync(`${root}/${INDEX_FILE_NAME}`, { readOnly: true });
  try {
    const rows = db.prepare(
      `SELECT c.seq, b.id, p.name AS pack, b.offset, b.stored_length, b.compression
       FROM versions AS v JOIN version_chunks AS c ON c.version_id = v.id
       JOIN blobs AS b USING (blob_no) JOIN packs AS p USING (pack_no)
       WHERE v.user_id = ? AND v.name = ? AND v.current = 1 ORDER BY c.seq`,
    ).all(userId, new TextEncoder().encode(name)) as Array<{
      seq: number;
      id: Uint8Array;
      pack: string;
      offset: number;
      stored_length: number;
      compression: number;
    }>;
    return rows.map((row) => ({
      seq: row.seq,
      id: row.id,
      pack: row.pack,
      path: `${root}/${REPOSITORY_DIR_NAME}/${row.pack}`,
      offset: row.offset,
      storedLength: row.stored_length,
      compression: row.compression === 1 ? "zstd" : "none",
    }));
  } finally {
    db.close();
  }
}

/** The pack files under a root, sorted. */
export async function packFiles(root: string): Promise<string[]> {
  const found: string[] = [];
  const packs = `${root}/${REPOSITORY_DIR_NAME}/packs`;
  for await (const shard of Deno.readDir(packs)) {
    for await (const file of Deno.readDir(`${packs}/${shard.name}`)) {
      if (!file.name.startsWith(".")) found.push(`${packs}/${shard.name}/${file.name}`);
    }
  }
  return found.sort();
}

/** Flips every bit of the byte at `offset` of a file, in place. */
export async function flipByte(path: string, offset: number): Promise<void> {
  using file = await Deno.open(path, { read: true, write: true });
  await file.seek(offset, Deno.SeekMode.Start);
  const byte = new Uint8Array(1);
  if (await file.read(byte) !== 1) throw new Error(`${path} has no byte at ${offset}`);
  byte[0] ^= 0xff;
  await file.seek(offset, Deno.SeekMode.Start);
  await file.write(byte);
}

/** Random bytes (incompressible: stored as they are), any size. */
export function randomBytes(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  const MAX_RANDOM = 65536; // what getRandomValues fills at once
  for (let at = 0; at < size; at += MAX_RANDOM) {
    crypto.getRandomValues(bytes.subarray(at, Math.min(size, at + MAX_RANDOM)));
  }
  return bytes;
}
