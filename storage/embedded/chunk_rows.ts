/**
 * The chunk tables' rows as values: a chunk's compression byte, a blob's place in its pack, a
 * written pack's data bytes, and the rule that a file's chunk is never a sealed blob.
 *
 * @module
 */
import {
  type BlobCompression,
  COMPRESSION_NONE,
  COMPRESSION_SEALED,
  COMPRESSION_ZSTD,
} from "../../repository/pack_format.ts";
import type { WrittenPack } from "../../repository/pack_writer.ts";
import type { Placement } from "../../repository/chunked_source.ts";
import { SealedChunkError } from "../sealed_blobs.ts";

/** A blob of a pack, as a repack copies it. */
export type PackedBlob = Omit<Placement, "seq" | "pack">;

/** How the index writes a chunk's compression: the byte its pack's header uses. */
export function compressionCode(compression: BlobCompression): number {
  if (compression === "sealed") return COMPRESSION_SEALED;
  return compression === "zstd" ? COMPRESSION_ZSTD : COMPRESSION_NONE;
}

/** A chunk's compression from the byte the index holds. */
export function compressionOf(code: number): BlobCompression {
  if (code === COMPRESSION_SEALED) return "sealed";
  return code === COMPRESSION_ZSTD ? "zstd" : "none";
}

/** A blob of the user found by id (`findBlob`). */
export interface BlobFound {
  blob_no: number;
  compression: number;
}

/**
 * A file's chunk (v1/v2) is never one of the user's sealed blobs: their bytes have no raw form
 * here, so a file naming one could never be read. Ids collide only if made to (a sealed blob's
 * id is keyed, a chunk's a SHA-256), and one row per id cannot hold both: refused, not stored.
 */
export function refuseSealed(userId: number, id: Uint8Array, found: BlobFound): void {
  if (found.compression === COMPRESSION_SEALED) throw new SealedChunkError(userId, id);
}

/** A chunk's place in its pack, as the statements select it. */
export interface BlobRow {
  id: Uint8Array;
  offset: number;
  stored_length: number;
  raw_length: number;
  compression: number;
}

/** A chunk's place as a value. */
export function packedBlobOf(row: BlobRow): PackedBlob {
  return {
    id: row.id,
    offset: row.offset,
    storedLength: row.stored_length,
    rawLength: row.raw_length,
    compression: compressionOf(row.compression),
  };
}

/** The bytes of a pack's chunks (its size less header and trailer). */
export function dataBytesOf(pack: WrittenPack): number {
  return pack.blobs.reduce((sum, blob) => sum + blob.storedLength, 0);
}
