/**
 * The rows of the index's `versions` table as its statements select them, and what they mean: a
 * version's metadata, and where its bytes are.
 *
 * @module
 */
import type { ChunkedFile } from "../../repository/chunked_writer.ts";
import type { FileMetadata } from "../storage.ts";

/**
 * Where a version's bytes are: inside the index, in a data file named by the server (written before
 * schema 5, still read), or in chunks: `chunks` when an upload hands them to the index, `chunkCount`
 * when the index gives a version back (its list is read a page at a time).
 */
export type Content =
  | { bytes: Uint8Array }
  | { dataFile: string }
  | { chunks: ChunkedFile }
  | { chunkCount: number };

/** A row of `versions`, as the statements of the index select it. */
export interface Row {
  id: number;
  size: number;
  mtime_ms: number;
  mode: number | null;
  sha256: Uint8Array;
  stored_ms: number;
  content: Uint8Array | null;
  data_file: string | null;
  chunk_count: number | null;
}

/**
 * A version's metadata from its row.
 *
 * @example
 * ```ts
 * import { metadataOf } from "./version_rows.ts";
 * import assert from "node:assert/strict";
 * const sha256 = new Uint8Array(32);
 * const row = { id: 7, size: 3, mtime_ms: 1, mode: null, sha256, stored_ms: 2, content: null, data_file: "d", chunk_count: null };
 * assert.deepEqual(metadataOf(row), { versionId: 7, size: 3, mtimeMs: 1, mode: null, sha256, storedMs: 2 });
 * ```
 */
export function metadataOf(row: Row): FileMetadata {
  return {
    versionId: row.id,
    size: row.size,
    mtimeMs: row.mtime_ms,
    mode: row.mode,
    sha256: row.sha256,
    storedMs: row.stored_ms,
  };
}

/** Where a version's bytes are, from its row (selected with `content`, `data_file`, `chunk_count`). */
export function contentOf(row: Row): Content {
  if (row.chunk_count !== null) return { chunkCount: row.chunk_count };
  return row.data_file !== null ? { dataFile: row.data_file } : { bytes: row.content! };
}
