/**
 * One entry of the S3 repository's chunk tables (`chunk_list.ts`; pure: no I/O): 48 bytes that say
 * where a chunk (or a snapshot blob) is, its id (32 bytes, the chunk's SHA-256), pack index u32,
 * offset u32, stored length u32 and raw length u32, whose top bits are flags (bit 31: the stored
 * bytes are one zstd frame; bit 30: a tree; bit 29: a sealed blob). Here are the field offsets
 * and flags, reading an entry in place (`locationOf`), its pack index, comparing ids, and the
 * largest raw length an entry may declare.
 *
 * @example
 * ```ts
 * import { CHUNK_ENTRY_BYTES, compareIds, locationOf } from "./chunk_entry.ts";
 * import assert from "node:assert/strict";
 *
 * const entries = new Uint8Array(2 * CHUNK_ENTRY_BYTES);
 * entries.fill(1, CHUNK_ENTRY_BYTES, CHUNK_ENTRY_BYTES + 32);
 * assert.ok(compareIds(entries, 0, entries, CHUNK_ENTRY_BYTES) < 0);
 * assert.equal(locationOf(entries, 0, ["00ff.1"]).pack, "00ff.1");
 * ```
 *
 * @module
 */
import type { BlobCompression } from "../../repository/pack_format.ts";
import type { BlobKind } from "../snapshots.ts";
import { MAX_TREE_BYTES } from "../snapshots.ts";
import { MAX_SEAL_OVERHEAD } from "../sealed_blobs.ts";

/** Bytes of one entry. */
export const CHUNK_ENTRY_BYTES = 48;
/** Bytes of a chunk id. */
export const CHUNK_ID_BYTES = 32;
/** The largest raw chunk (the chunker's maximum): decode refuses more. */
export const MAX_CHUNK_RAW_BYTES = 8 * 1024 * 1024;
/** Set in the raw length field of a chunk stored as one zstd frame. */
export const ZSTD_FLAG = 0x8000_0000;
/** Set in the raw length field of a tree (BKIDX002 only). */
export const TREE_FLAG = 0x4000_0000;
/**
 * Set in the raw length field of a sealed blob (BKIDX002 only). Free: no raw length reaches bit 29
 * (512 MiB), the largest being a sealed tree's, `MAX_TREE_BYTES + MAX_SEAL_OVERHEAD`.
 */
export const SEALED_FLAG = 0x2000_0000;
/** The bits of the raw length field that are not the length. */
const FLAGS = ZSTD_FLAG | TREE_FLAG | SEALED_FLAG;

/** Offset of the pack index (u32 LE) in an entry. */
export const ENTRY_PACK = 32;
/** Offset of the offset in the pack (u32 LE) in an entry. */
export const ENTRY_OFFSET = 36;
/** Offset of the stored length (u32 LE) in an entry. */
export const ENTRY_STORED = 40;
/** Offset of the raw length and its flags (u32 LE) in an entry. */
export const ENTRY_RAW = 44;

/** Where one chunk is. */
export interface ChunkLocation {
  /** The chunk's SHA-256. */
  id: Uint8Array;
  /** Its pack, relative to `p/USER/`. */
  pack: string;
  offset: number;
  storedLength: number;
  rawLength: number;
  compression: BlobCompression;
  /** What the blob is (a tree only in BKIDX002); absent or "chunk" (a pack's word): data. */
  kind?: BlobKind | "chunk";
}

/** The location of the entry at byte `at` of `entries`, its pack named from `packs`. */
export function locationOf(
  entries: Uint8Array,
  at: number,
  packs: readonly string[],
): ChunkLocation {
  const view = new DataView(entries.buffer, entries.byteOffset + at, CHUNK_ENTRY_BYTES);
  const raw = view.getUint32(ENTRY_RAW, true);
  return {
    id: entries.subarray(at, at + CHUNK_ID_BYTES),
    pack: packs[view.getUint32(ENTRY_PACK, true)],
    offset: view.getUint32(ENTRY_OFFSET, true),
    storedLength: view.getUint32(ENTRY_STORED, true),
    rawLength: (raw & ~FLAGS) >>> 0,
    compression: raw & SEALED_FLAG ? "sealed" : raw & ZSTD_FLAG ? "zstd" : "none",
    ...(raw & TREE_FLAG ? { kind: "tree" as const } : {}),
  };
}

/** The pack index of the entry at byte `at` of `entries`. */
export function packIndexAt(entries: Uint8Array, at: number): number {
  return new DataView(entries.buffer, entries.byteOffset + at + ENTRY_PACK, 4).getUint32(0, true);
}

/** Writes the pack index of the entry at byte `at` of `entries`. */
export function setPackIndexAt(entries: Uint8Array, at: number, pack: number): void {
  new DataView(entries.buffer, entries.byteOffset + at + ENTRY_PACK, 4).setUint32(0, pack, true);
}

/** Compares two ids in place (bytewise): negative, zero or positive. */
export function compareIds(a: Uint8Array, aAt: number, b: Uint8Array, bAt: number): number {
  for (let i = 0; i < CHUNK_ID_BYTES; i++) {
    const d = a[aAt + i] - b[bAt + i];
    if (d !== 0) return d;
  }
  return 0;
}

/** The largest raw length of a chunk like `chunk`: its kind's, plus the seal's if sealed. */
export function maxRawOf(chunk: ChunkLocation): number {
  const kindMax = chunk.kind === "tree" ? MAX_TREE_BYTES : MAX_CHUNK_RAW_BYTES;
  return chunk.compression === "sealed" ? kindMax + MAX_SEAL_OVERHEAD : kindMax;
}
