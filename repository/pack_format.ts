/**
 * The byte layout of a pack: one object holding many blobs (chunks), written once, never changed.
 * Pure: no `Deno.*`, no I/O. The pack writer and reader, the index and the checker all go through
 * this codec, so the layout is written down in one place (and in `docs/repository.md`).
 *
 * ```
 * blob_0 blob_1 ... blob_{n-1}   stored bytes, back to back from offset 0 (raw, one zstd frame, or
 *                                 sealed by the client of an encrypted repository)
 * header                          n entries of PACK_ENTRY_BYTES, in blob order
 * trailer                         28 bytes: count u32 LE, SHA-256(header)[0..16], "BKPACK01"
 * ```
 *
 * A header entry: kind u8 (1 = chunk), compression u8 (0 = none, 1 = zstd, 2 = sealed), reserved
 * u16 (0), storedLength u32 LE, rawLength u32 LE, id (32 bytes: the SHA-256 of the raw bytes; of a
 * sealed blob, the client's keyed id, which nobody else can check). Offsets are
 * not stored: each blob starts where the one before it ends. The header is at the end so that a
 * pack can be streamed out blob by blob and closed with what it learned on the way; a reader gets
 * the trailer (the last 28 bytes), then the header before it, then any blob by its range.
 *
 * @example Reading a pack's table of contents
 * ```ts
 * import {
 *   decodePackHeader,
 *   decodePackTrailer,
 *   encodePackTail,
 *   PACK_TRAILER_BYTES,
 * } from "./pack_format.ts";
 * import assert from "node:assert/strict";
 *
 * const blob = new TextEncoder().encode("hello");
 * const id = new Uint8Array(await crypto.subtle.digest("SHA-256", blob));
 * const tail = encodePackTail([
 *   { id, kind: "chunk", compression: "none", storedLength: 5, rawLength: 5, offset: 0 },
 * ]);
 * const pack = new Uint8Array([...blob, ...tail]);
 *
 * const trailer = decodePackTrailer(pack.subarray(pack.length - PACK_TRAILER_BYTES));
 * assert.equal(trailer.count, 1);
 * const headerStart = pack.length - PACK_TRAILER_BYTES - trailer.headerBytes;
 * const header = pack.subarray(headerStart, headerStart + trailer.headerBytes);
 * const [entry] = decodePackHeader(header, trailer, pack.length);
 * assert.deepEqual(entry, {
 *   id,
 *   kind: "chunk",
 *   compression: "none",
 *   storedLength: 5,
 *   rawLength: 5,
 *   offset: 0,
 * });
 * ```
 *
 * @module
 */
import { createHash } from "node:crypto";
import { BackupError } from "../common/backup_error.ts";
import { sameBytes } from "../common/bytes.ts";

/** Bytes of the trailer, the last bytes of every pack. */
export const PACK_TRAILER_BYTES = 28;
/** Bytes of one header entry. */
export const PACK_ENTRY_BYTES = 44;
/**
 * Most blobs in one pack: decode refuses more, which bounds what a hostile trailer makes a reader
 * allocate (2.75 MiB of header).
 */
export const MAX_PACK_BLOBS = 65536;
/** The last 8 bytes of every pack, ASCII; the digit pair is the format's version. */
export const PACK_MAGIC = "BKPACK01";
/** Bytes of SHA-256(header) kept in the trailer: 128 bits catch any accident. */
export const PACK_HEADER_DIGEST_BYTES = 16;
/** Bytes of a blob id (a SHA-256). */
export const BLOB_ID_BYTES = 32;
/** Largest value of a u32 field (lengths). */
const U32_MAX = 0xffff_ffff;

/** `kind` byte of a chunk; other values are reserved. */
export const KIND_CHUNK = 1;
/** `compression` byte of a blob stored as it is. */
export const COMPRESSION_NONE = 0;
/** `compression` byte of a blob stored as one zstd frame. */
export const COMPRESSION_ZSTD = 1;
/**
 * `compression` byte of a blob sealed by the client of an encrypted repository (docs/keys_plan.md
 * §2): its stored bytes are its raw bytes as far as the store knows (`storedLength === rawLength`),
 * and only the client can open them and check them against the id.
 */
export const COMPRESSION_SEALED = 2;

// Field offsets inside a header entry.
const ENTRY_KIND = 0;
const ENTRY_COMPRESSION = 1;
const ENTRY_RESERVED = 2;
const ENTRY_STORED_LENGTH = 4;
const ENTRY_RAW_LENGTH = 8;
const ENTRY_ID = 12;
// Field offsets inside the trailer.
const TRAILER_COUNT = 0;
const TRAILER_DIGEST = 4;
const TRAILER_MAGIC = TRAILER_DIGEST + PACK_HEADER_DIGEST_BYTES;

const MAGIC_BYTES = new TextEncoder().encode(PACK_MAGIC);

/**
 * How a blob's stored bytes are made from its raw bytes: as they are, one zstd frame, or sealed by
 * the client (opaque here: never decoded nor hashed by the store).
 */
export type BlobCompression = "none" | "zstd" | "sealed";

/** One blob of a pack, as its header entry says, with the offset implied by its place. */
export interface PackBlob {
  /** SHA-256 of the raw (uncompressed) bytes: 32 bytes. */
  id: Uint8Array;
  /** What the blob is; only chunks exist so far. */
  kind: "chunk";
  /** How the stored bytes decode to the raw bytes. */
  compression: BlobCompression;
  /** Bytes the blob occupies in the pack. */
  storedLength: number;
  /** Bytes of the blob once decoded. */
  rawLength: number;
  /** Where the blob's stored bytes start in the pack. */
  offset: number;
}

/** A pack (or a piece of one) that does not follow the layout: refused, never half-read. */
export class CorruptPackError extends BackupError {}

/**
 * The header and trailer that close a pack whose blobs are `blobs`, in pack order.
 *
 * @throws {RangeError} if there are no blobs or more than {@linkcode MAX_PACK_BLOBS}, if offsets
 * are not consecutive from 0, if a length is not a u32, if an id is not 32 bytes, if the kind or
 * the compression is unknown, or if an uncompressed or sealed blob's stored and raw lengths differ.
 *
 * @example A pack of one empty chunk
 * ```ts
 * import { encodePackTail } from "./pack_format.ts";
 * import { toHex } from "../common/hex.ts";
 * import assert from "node:assert/strict";
 *
 * const id = new Uint8Array(32).fill(0xaa);
 * const tail = encodePackTail([
 *   { id, kind: "chunk", compression: "none", storedLength: 0, rawLength: 0, offset: 0 },
 * ]);
 * assert.equal(toHex(tail.subarray(0, 12)), "010000000000000000000000"); // kind 1, none, 0, 0, 0
 * assert.equal(toHex(tail.subarray(12, 44)), "aa".repeat(32));
 * assert.equal(toHex(tail.subarray(44, 48)), "01000000"); // one entry
 * assert.equal(new TextDecoder().decode(tail.subarray(64)), "BKPACK01");
 * ```
 */
export function encodePackTail(blobs: readonly PackBlob[]): Uint8Array {
  if (blobs.length === 0 || blobs.length > MAX_PACK_BLOBS) {
    throw new RangeError(`a pack holds 1 to ${MAX_PACK_BLOBS} blobs, got ${blobs.length}`);
  }
  const headerBytes = blobs.length * PACK_ENTRY_BYTES;
  const tail = new Uint8Array(headerBytes + PACK_TRAILER_BYTES);
  const view = new DataView(tail.buffer);
  let expectedOffset = 0;
  blobs.forEach((blob, index) => {
    checkBlob(blob, index, expectedOffset);
    const at = index * PACK_ENTRY_BYTES;
    view.setUint8(at + ENTRY_KIND, KIND_CHUNK);
    view.setUint8(at + ENTRY_COMPRESSION, compressionByte(blob.compression));
    view.setUint16(at + ENTRY_RESERVED, 0, true);
    view.setUint32(at + ENTRY_STORED_LENGTH, blob.storedLength, true);
    view.setUint32(at + ENTRY_RAW_LENGTH, blob.rawLength, true);
    tail.set(blob.id, at + ENTRY_ID);
    expectedOffset += blob.storedLength;
  });
  view.setUint32(headerBytes + TRAILER_COUNT, blobs.length, true);
  tail.set(headerDigest(tail.subarray(0, headerBytes)), headerBytes + TRAILER_DIGEST);
  tail.set(MAGIC_BYTES, headerBytes + TRAILER_MAGIC);
  return tail;
}

/**
 * Reads a pack's trailer (its last {@linkcode PACK_TRAILER_BYTES} bytes): how many blobs, how many
 * header bytes precede the trailer, and the digest the header must have.
 *
 * @throws {CorruptPackError} if `trailer` is not 28 bytes, the magic is not `BKPACK01`, or the
 * count is 0 or above {@linkcode MAX_PACK_BLOBS}.
 */
export function decodePackTrailer(
  trailer: Uint8Array,
): { count: number; headerBytes: number; headerDigest: Uint8Array } {
  if (trailer.length !== PACK_TRAILER_BYTES) {
    throw new CorruptPackError(
      `a pack trailer is ${PACK_TRAILER_BYTES} bytes, got ${trailer.length}`,
    );
  }
  const magic = trailer.subarray(TRAILER_MAGIC);
  if (!sameBytes(magic, MAGIC_BYTES)) {
    throw new CorruptPackError(
      `pack trailer magic: expected ${JSON.stringify(PACK_MAGIC)}, got ${
        JSON.stringify(String.fromCharCode(...magic))
      }`,
    );
  }
  const count = new DataView(trailer.buffer, trailer.byteOffset, trailer.byteLength)
    .getUint32(TRAILER_COUNT, true);
  if (count === 0 || count > MAX_PACK_BLOBS) {
    throw new CorruptPackError(`pack trailer count: expected 1 to ${MAX_PACK_BLOBS}, got ${count}`);
  }
  return {
    count,
    headerBytes: count * PACK_ENTRY_BYTES,
    headerDigest: trailer.slice(TRAILER_DIGEST, TRAILER_MAGIC),
  };
}

/**
 * Decodes a pack's header (the `trailer.headerBytes` bytes just before the trailer) into its blobs,
 * in pack order, each with its offset. The ids are copies: `header` may be reused afterwards.
 *
 * @param header the header bytes
 * @param trailer what {@linkcode decodePackTrailer} read from the same pack
 * @param packSize the pack's size in bytes: the blobs must fill exactly what the header and the
 *   trailer leave
 * @throws {CorruptPackError} if the header's length or digest does not match the trailer, an entry
 * has an unknown kind or compression or a nonzero reserved field, an uncompressed or sealed blob's
 * stored and raw lengths differ, a zstd blob is empty, or the stored lengths do not add up to the space
 * before the header.
 * @throws {RangeError} if `packSize` is not a non-negative safe integer (a caller's bug).
 */
export function decodePackHeader(
  header: Uint8Array,
  trailer: ReturnType<typeof decodePackTrailer>,
  packSize: number,
): PackBlob[] {
  if (!Number.isSafeInteger(packSize) || packSize < 0) {
    throw new RangeError(`packSize must be a non-negative safe integer, got ${packSize}`);
  }
  if (header.length !== trailer.headerBytes) {
    throw new CorruptPackError(
      `pack header: the trailer says ${trailer.headerBytes} bytes, got ${header.length}`,
    );
  }
  if (!sameBytes(headerDigest(header), trailer.headerDigest)) {
    throw new CorruptPackError("pack header: its SHA-256 does not match the trailer's digest");
  }
  const blobBytes = packSize - header.length - PACK_TRAILER_BYTES;
  if (blobBytes < 0) {
    throw new CorruptPackError(
      `pack of ${packSize} bytes is smaller than its header and trailer (${
        header.length + PACK_TRAILER_BYTES
      })`,
    );
  }
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  const blobs: PackBlob[] = [];
  let offset = 0;
  for (let index = 0; index < trailer.count; index++) {
    const blob = decodeEntry(header, view, index, offset);
    blobs.push(blob);
    offset += blob.storedLength;
  }
  if (offset !== blobBytes) {
    throw new CorruptPackError(
      `pack blobs: the header says ${offset} bytes, the pack leaves ${blobBytes}`,
    );
  }
  return blobs;
}

function decodeEntry(header: Uint8Array, view: DataView, index: number, offset: number): PackBlob {
  const at = index * PACK_ENTRY_BYTES;
  const where = `pack header entry ${index}`;
  const kind = view.getUint8(at + ENTRY_KIND);
  if (kind !== KIND_CHUNK) throw new CorruptPackError(`${where}: unknown kind ${kind}`);
  const compressionCode = view.getUint8(at + ENTRY_COMPRESSION);
  let compression: BlobCompression;
  if (compressionCode === COMPRESSION_NONE) compression = "none";
  else if (compressionCode === COMPRESSION_ZSTD) compression = "zstd";
  else if (compressionCode === COMPRESSION_SEALED) compression = "sealed";
  else throw new CorruptPackError(`${where}: unknown compression ${compressionCode}`);
  const reserved = view.getUint16(at + ENTRY_RESERVED, true);
  if (reserved !== 0) throw new CorruptPackError(`${where}: reserved field is ${reserved}, not 0`);
  const storedLength = view.getUint32(at + ENTRY_STORED_LENGTH, true);
  const rawLength = view.getUint32(at + ENTRY_RAW_LENGTH, true);
  if (compression !== "zstd" && storedLength !== rawLength) {
    throw new CorruptPackError(
      `${where}: ${
        compression === "none" ? "uncompressed" : "sealed"
      } blob stores ${storedLength} bytes for ${rawLength}`,
    );
  }
  if (compression === "zstd" && storedLength === 0) {
    throw new CorruptPackError(`${where}: a zstd blob cannot be empty`);
  }
  const id = header.slice(at + ENTRY_ID, at + ENTRY_ID + BLOB_ID_BYTES);
  return { id, kind: "chunk", compression, storedLength, rawLength, offset };
}

function checkBlob(blob: PackBlob, index: number, expectedOffset: number): void {
  const where = `blob ${index}`;
  if (blob.offset !== expectedOffset) {
    throw new RangeError(`${where}: offset must be ${expectedOffset}, got ${blob.offset}`);
  }
  if (blob.kind !== "chunk") throw new RangeError(`${where}: unknown kind ${blob.kind}`);
  compressionByte(blob.compression);
  checkU32(blob.storedLength, `${where}: storedLength`);
  checkU32(blob.rawLength, `${where}: rawLength`);
  if (blob.compression !== "zstd" && blob.storedLength !== blob.rawLength) {
    throw new RangeError(
      `${where}: ${
        blob.compression === "none" ? "uncompressed" : "sealed"
      }, so storedLength ${blob.storedLength} must equal ` +
        `rawLength ${blob.rawLength}`,
    );
  }
  if (blob.id.length !== BLOB_ID_BYTES) {
    throw new RangeError(`${where}: id must be ${BLOB_ID_BYTES} bytes, got ${blob.id.length}`);
  }
}

function checkU32(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > U32_MAX) {
    throw new RangeError(`${what} must be a u32, got ${value}`);
  }
}

function compressionByte(compression: BlobCompression): number {
  if (compression === "none") return COMPRESSION_NONE;
  if (compression === "zstd") return COMPRESSION_ZSTD;
  if (compression === "sealed") return COMPRESSION_SEALED;
  throw new RangeError(`unknown compression ${JSON.stringify(compression)}`);
}

function headerDigest(header: Uint8Array): Uint8Array {
  return createHash("sha256").update(header).digest().subarray(0, PACK_HEADER_DIGEST_BYTES);
}
