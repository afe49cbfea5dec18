/**
 * The chunk tables of the S3 repository (pure: no I/O): a `c` record's body, BKLIST01, lists a
 * file's chunks in file order with where each is, so a read needs no index; an index object,
 * BKIDX001, is the same table with its entries sorted by id (a dedup hint, `dedup_cache.ts`); a
 * snapshot session's index object, BKIDX002, is an index whose entries each carry a kind (a data
 * blob or a tree: bit 30 of the raw length), whose trees may be up to `MAX_TREE_BYTES` raw, and
 * whose zstd blobs may be up to `MAX_STORED_OVERHEAD_BYTES` larger than raw (as a v3 client may
 * send them); a blob sealed by the client of an encrypted repository has bit 29 set (stored length
 * = raw length, up to `MAX_SEAL_OVERHEAD` over its kind's limit). A BKIDX001 object reads as a
 * BKIDX002 one whose entries are all data. An entry, its flags and its fields: `chunk_entry.ts`.
 *
 * ```text
 * magic          8 bytes, ASCII "BKLIST01", "BKIDX001" or "BKIDX002"
 * pack count     u32 LE
 * chunk count    u32 LE
 * pack names     each a u8 length and that many ASCII bytes (relative to p/USER/)
 * entries        48 bytes each: id (32, the chunk's SHA-256), pack index u32, offset u32,
 *                stored length u32, raw length u32 (top bit set: the stored bytes are one zstd frame;
 *                bit 30, BKIDX002 only: the blob is a tree; bit 29, BKIDX002 only: it is sealed)
 * ```
 *
 * Decoding refuses anything else (`CorruptStoreError`): a wrong magic, a length that is not the
 * one the counts give, a pack name outside `[a-z0-9_.-]`, an entry naming no pack, a raw chunk
 * larger than the chunker's maximum, stored bytes that cannot be the raw ones, an index not sorted.
 *
 * @example
 * ```ts
 * import { ChunkTableBuilder, chunkAt, decodeChunkTable, encodeChunkTable } from "./chunk_list.ts";
 * import assert from "node:assert/strict";
 *
 * const builder = new ChunkTableBuilder();
 * const id = new Uint8Array(32).fill(7);
 * builder.add({ id, pack: "00ff.1", offset: 0, storedLength: 5, rawLength: 5, compression: "none" });
 * const bytes = encodeChunkTable("list", builder.table());
 * assert.equal(bytes.length, 16 + 1 + 6 + 48);
 * assert.equal(chunkAt(decodeChunkTable("list", bytes), 0).pack, "00ff.1");
 * ```
 *
 * @module
 */
import { CorruptStoreError } from "../storage.ts";
import { MAX_STORED_OVERHEAD_BYTES } from "../snapshots.ts";
import {
  CHUNK_ENTRY_BYTES,
  CHUNK_ID_BYTES,
  type ChunkLocation,
  compareIds,
  ENTRY_OFFSET,
  ENTRY_PACK,
  ENTRY_RAW,
  ENTRY_STORED,
  locationOf,
  maxRawOf,
  packIndexAt,
  SEALED_FLAG,
  TREE_FLAG,
  ZSTD_FLAG,
} from "./chunk_entry.ts";
export {
  CHUNK_ENTRY_BYTES,
  CHUNK_ID_BYTES,
  type ChunkLocation,
  compareIds,
  locationOf,
  MAX_CHUNK_RAW_BYTES,
  packIndexAt,
  setPackIndexAt,
} from "./chunk_entry.ts";

/** Magic of a `c` record's body: chunks in file order. */
export const LIST_MAGIC = "BKLIST01";
/** Magic of an index object: chunks sorted by id. */
export const INDEX_MAGIC = "BKIDX001";
/** Magic of a snapshot session's index object: blobs sorted by id, each with its kind. */
export const BLOB_INDEX_MAGIC = "BKIDX002";
/** Bytes of magic and the two counts. */
export const TABLE_HEADER_BYTES = 16;
/** The longest pack name (its length is one byte). */
export const MAX_PACK_NAME_BYTES = 255;

const PACK_NAME = /^[a-z0-9_-][a-z0-9_.-]*$/;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Which table: a record's list (file order), an index object (sorted by id), or a snapshot
 * session's index object (sorted by id, a kind per entry; BKIDX001 reads as all data).
 */
export type ChunkTableKind = "list" | "index" | "blobs";

/** A decoded table: the pack names and the entries, `CHUNK_ENTRY_BYTES` each. */
export interface ChunkTable {
  packs: string[];
  /** `count * CHUNK_ENTRY_BYTES` bytes. */
  entries: Uint8Array;
  count: number;
}

/** The location of entry `index` of `table`. */
export function chunkAt(table: ChunkTable, index: number): ChunkLocation {
  return locationOf(table.entries, index * CHUNK_ENTRY_BYTES, table.packs);
}

/** Builds a table entry by entry, naming each pack once. */
export class ChunkTableBuilder {
  readonly #packs: string[] = [];
  readonly #packIndex = new Map<string, number>();
  #entries = new Uint8Array(CHUNK_ENTRY_BYTES * 16);
  #count = 0;

  /**
   * Adds a chunk.
   *
   * @throws {RangeError} if a field does not fit its u32, or the pack name is not one.
   */
  add(chunk: ChunkLocation): void {
    let pack = this.#packIndex.get(chunk.pack);
    if (pack === undefined) {
      if (!PACK_NAME.test(chunk.pack) || chunk.pack.length > MAX_PACK_NAME_BYTES) {
        throw new RangeError(`not a pack name: ${chunk.pack}`);
      }
      pack = this.#packs.push(chunk.pack) - 1;
      this.#packIndex.set(chunk.pack, pack);
    }
    const maxRaw = maxRawOf(chunk);
    if (chunk.rawLength > maxRaw || !isU32(chunk.offset) || !isU32(chunk.storedLength)) {
      throw new RangeError(`a chunk of ${chunk.rawLength} bytes at ${chunk.offset} does not fit`);
    }
    const at = this.#count * CHUNK_ENTRY_BYTES;
    if (at + CHUNK_ENTRY_BYTES > this.#entries.length) {
      const grown = new Uint8Array(this.#entries.length * 2);
      grown.set(this.#entries);
      this.#entries = grown;
    }
    this.#entries.set(chunk.id.subarray(0, CHUNK_ID_BYTES), at);
    const view = new DataView(this.#entries.buffer, at, CHUNK_ENTRY_BYTES);
    view.setUint32(ENTRY_PACK, pack, true);
    view.setUint32(ENTRY_OFFSET, chunk.offset, true);
    view.setUint32(ENTRY_STORED, chunk.storedLength, true);
    view.setUint32(
      ENTRY_RAW,
      (chunk.rawLength | (chunk.compression === "zstd" ? ZSTD_FLAG : 0) |
        (chunk.compression === "sealed" ? SEALED_FLAG : 0) |
        (chunk.kind === "tree" ? TREE_FLAG : 0)) >>> 0,
      true,
    );
    this.#count++;
  }

  /** How many chunks so far. */
  get count(): number {
    return this.#count;
  }

  /** The table (its entries in the order added). */
  table(): ChunkTable {
    const entries = this.#entries.subarray(0, this.#count * CHUNK_ENTRY_BYTES);
    return { packs: [...this.#packs], entries, count: this.#count };
  }
}

/** `table` with its entries sorted by id (for an index object); ids must be distinct. */
export function sortedById(table: ChunkTable): ChunkTable {
  const order = Array.from({ length: table.count }, (_, i) => i * CHUNK_ENTRY_BYTES);
  order.sort((a, b) => compareIds(table.entries, a, table.entries, b));
  const entries = new Uint8Array(table.count * CHUNK_ENTRY_BYTES);
  order.forEach((from, i) => {
    entries.set(table.entries.subarray(from, from + CHUNK_ENTRY_BYTES), i * CHUNK_ENTRY_BYTES);
  });
  return { packs: table.packs, entries, count: table.count };
}

/**
 * The bytes of `table` as a list (BKLIST01), an index (BKIDX001) or a snapshot session's index
 * (BKIDX002); an index's entries must be sorted.
 *
 * @throws {RangeError} if there are more packs than a u32 counts or a pack name is too long, or a
 *   list or BKIDX001 index holds a tree.
 */
export function encodeChunkTable(kind: ChunkTableKind, table: ChunkTable): Uint8Array {
  const names = table.packs.map((pack) => encoder.encode(pack));
  if (names.some((name) => name.length === 0 || name.length > MAX_PACK_NAME_BYTES)) {
    throw new RangeError("a pack name of 1 to 255 bytes");
  }
  const namesBytes = names.reduce((sum, name) => sum + 1 + name.length, 0);
  const bytes = new Uint8Array(TABLE_HEADER_BYTES + namesBytes + table.count * CHUNK_ENTRY_BYTES);
  for (
    let at = 0;
    kind !== "blobs" && at < table.count * CHUNK_ENTRY_BYTES;
    at += CHUNK_ENTRY_BYTES
  ) {
    const chunk = locationOf(table.entries, at, table.packs);
    if (chunk.kind === "tree" || chunk.compression === "sealed") {
      throw new RangeError(
        `a ${chunk.kind === "tree" ? "tree" : "sealed blob"} in a ${
          kind === "list" ? "chunk list" : "chunk index"
        }`,
      );
    }
  }
  bytes.set(encoder.encode(MAGICS[kind]));
  const view = new DataView(bytes.buffer);
  view.setUint32(8, names.length, true);
  view.setUint32(12, table.count, true);
  let at = TABLE_HEADER_BYTES;
  for (const name of names) {
    bytes[at++] = name.length;
    bytes.set(name, at);
    at += name.length;
  }
  bytes.set(table.entries.subarray(0, table.count * CHUNK_ENTRY_BYTES), at);
  return bytes;
}

/**
 * Reads a list or an index, checking all of it.
 *
 * @throws {CorruptStoreError} if `bytes` is not a well-formed table of `kind` (see the module comment).
 */
export function decodeChunkTable(kind: ChunkTableKind, bytes: Uint8Array): ChunkTable {
  const what = kind === "list" ? "chunk list" : kind === "index" ? "chunk index" : "blob index";
  const refuse = (reason: string): never => {
    throw new CorruptStoreError(`a ${what} that ${reason}`);
  };
  if (bytes.length < TABLE_HEADER_BYTES) refuse(`is ${bytes.length} bytes long`);
  const magic = decoder.decode(bytes.subarray(0, 8));
  const blobs = magic === BLOB_INDEX_MAGIC; // kinds and snapshot limits
  if (magic !== MAGICS[kind] && !(kind === "blobs" && magic === INDEX_MAGIC)) {
    refuse("has the wrong magic");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const packCount = view.getUint32(8, true);
  const count = view.getUint32(12, true);
  let at = TABLE_HEADER_BYTES;
  const packs: string[] = [];
  // Each name takes at least two bytes: a count past what is left is refused before any loop.
  if (packCount * 2 > bytes.length - at) {
    refuse(`names ${packCount} packs in ${bytes.length} bytes`);
  }
  for (let i = 0; i < packCount; i++) {
    const length = bytes[at++];
    if (length === undefined || at + length > bytes.length) refuse("ends inside a pack name");
    const name = decoder.decode(bytes.subarray(at, at + length));
    if (!PACK_NAME.test(name)) refuse(`names a pack ${JSON.stringify(name.slice(0, 40))}`);
    packs.push(name);
    at += length;
  }
  if (bytes.length - at !== count * CHUNK_ENTRY_BYTES) {
    refuse(`declares ${count} chunks in ${bytes.length - at} bytes of entries`);
  }
  const entries = bytes.subarray(at);
  for (let i = 0; i < count; i++) {
    const e = i * CHUNK_ENTRY_BYTES;
    const pack = packIndexAt(entries, e);
    const chunk = locationOf(entries, e, packs);
    if (pack >= packCount) refuse(`names pack ${pack} of ${packCount}`);
    const raw = new DataView(entries.buffer, entries.byteOffset + e + ENTRY_RAW, 4).getUint32(
      0,
      true,
    );
    if (!blobs && raw & (TREE_FLAG | SEALED_FLAG)) {
      refuse(`has a chunk of ${chunk.rawLength} bytes`);
    }
    if (raw & SEALED_FLAG && raw & ZSTD_FLAG) refuse("has a blob both sealed and zstd");
    const maxRaw = maxRawOf(chunk);
    const badLength = (chunk.rawLength === 0 && !blobs) || chunk.rawLength > maxRaw ||
      (chunk.storedLength === 0 && chunk.rawLength > 0) ||
      (chunk.compression !== "zstd"
        ? chunk.storedLength !== chunk.rawLength
        : chunk.storedLength > chunk.rawLength + (blobs ? MAX_STORED_OVERHEAD_BYTES : 0));
    if (badLength) refuse(`has a chunk of ${chunk.storedLength} stored, ${chunk.rawLength} raw`);
    if (chunk.offset + chunk.storedLength > 0xffff_ffff) refuse("has a chunk past 4 GiB");
    if (kind !== "list" && i > 0 && compareIds(entries, e - CHUNK_ENTRY_BYTES, entries, e) >= 0) {
      refuse("is not sorted by id");
    }
  }
  return { packs, entries, count };
}

const MAGICS: Record<ChunkTableKind, string> = {
  list: LIST_MAGIC,
  index: INDEX_MAGIC,
  blobs: BLOB_INDEX_MAGIC,
};

function isU32(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0 && value <= 0xffff_ffff;
}
