/**
 * The format of a file sealed by the client (`--encrypt`), pure: sizes, the header, the nonces.
 * See docs/encryption.md for the layout and test vectors.
 *
 * ```
 * header:  "BKE1" (4) | wrap nonce (12) | file key sealed by the user's key (32 + 16) | nonce prefix (7)
 * chunks:  AES-GCM(file key, nonce = prefix | index (4, big-endian) | last (1)) of 64 KiB of the
 *          file each (the last one shorter, possibly empty), each followed by its 16-byte tag
 * ```
 *
 * The file key is wrapped with the stored name as additional data, and for a link or an empty
 * folder's marker with its kind as well (see `wrapData`), so that one kind cannot be served as
 * another. A link's payload is its target; a marker's is the folder's metadata (`FOLDER_META_SIZE`).
 *
 * @module
 */

/** The magic bytes that open a sealed file. */
export const MAGIC: Uint8Array = new TextEncoder().encode("BKE1");
/** Bytes of plaintext per chunk. */
export const CHUNK_SIZE = 64 * 1024;
/** Bytes of an AES-GCM tag. */
export const TAG_SIZE = 16;
/** Bytes of the nonce that wraps the file key. */
export const WRAP_NONCE_SIZE = 12;
/** Bytes of the file key, sealed: the key and its tag. */
export const SEALED_KEY_SIZE = 32 + TAG_SIZE;
/** Bytes of the random prefix of every chunk's nonce. */
export const NONCE_PREFIX_SIZE = 7;
/** Bytes of the header. */
export const HEADER_SIZE: number = MAGIC.length + WRAP_NONCE_SIZE + SEALED_KEY_SIZE +
  NONCE_PREFIX_SIZE;

/**
 * How many chunks `plainSize` bytes make: full chunks, then a last one (empty when the size is a
 * multiple of the chunk size), so that the end of the file is always sealed.
 */
export function chunkCount(plainSize: number): number {
  return Math.floor(plainSize / CHUNK_SIZE) + 1;
}

/**
 * The sealed size of `plainSize` bytes: the header, the bytes, a tag per chunk.
 *
 * @example
 * ```ts
 * import { sealedSize } from "./format.ts";
 * import assert from "node:assert/strict";
 * assert.equal(sealedSize(0), 71 + 16);
 * assert.equal(sealedSize(65536), 71 + 65536 + 2 * 16);
 * ```
 */
export function sealedSize(plainSize: number): number {
  return HEADER_SIZE + plainSize + chunkCount(plainSize) * TAG_SIZE;
}

/** The plain size of a sealed file of `sealed` bytes, or `undefined` if no plain size fits. */
export function plainSize(sealed: number): number | undefined {
  const body = sealed - HEADER_SIZE;
  if (body < TAG_SIZE) return undefined;
  const chunks = Math.floor(body / (CHUNK_SIZE + TAG_SIZE)) + 1;
  const plain = body - chunks * TAG_SIZE;
  return plain >= 0 && sealedSize(plain) === sealed ? plain : undefined;
}

/** The nonce of chunk `index`: the file's prefix, the index (big-endian), and whether it is last. */
export function chunkNonce(prefix: Uint8Array, index: number, last: boolean): Uint8Array {
  const nonce = new Uint8Array(12);
  nonce.set(prefix);
  new DataView(nonce.buffer).setUint32(NONCE_PREFIX_SIZE, index);
  nonce[11] = last ? 1 : 0;
  return nonce;
}

/** The parts of a header. */
export interface Header {
  wrapNonce: Uint8Array;
  sealedKey: Uint8Array;
  noncePrefix: Uint8Array;
}

/** Encodes a header. */
export function encodeHeader(header: Header): Uint8Array {
  const bytes = new Uint8Array(HEADER_SIZE);
  bytes.set(MAGIC);
  bytes.set(header.wrapNonce, MAGIC.length);
  bytes.set(header.sealedKey, MAGIC.length + WRAP_NONCE_SIZE);
  bytes.set(header.noncePrefix, MAGIC.length + WRAP_NONCE_SIZE + SEALED_KEY_SIZE);
  return bytes;
}

/** Parses a header; `undefined` if the bytes are not one. */
export function parseHeader(bytes: Uint8Array): Header | undefined {
  if (bytes.length < HEADER_SIZE || MAGIC.some((byte, i) => bytes[i] !== byte)) return undefined;
  let at = MAGIC.length;
  const take = (size: number) => bytes.slice(at, at += size);
  return {
    wrapNonce: take(WRAP_NONCE_SIZE),
    sealedKey: take(SEALED_KEY_SIZE),
    noncePrefix: take(NONCE_PREFIX_SIZE),
  };
}

/** What a sealed payload stands for. */
export type SealedKind = "file" | "link" | "folder";

const encoder = new TextEncoder();

/**
 * The additional data the file key is wrapped with: a file's stored name (as every earlier client
 * sealed files, so that they still open), or for a link or a folder's marker NUL, its kind, NUL,
 * then the name. No name holds a NUL, so no file's data is a link's or a marker's.
 *
 * @example
 * ```ts
 * import { wrapData } from "./format.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(wrapData("a.txt"), new TextEncoder().encode("a.txt"));
 * assert.deepEqual(wrapData("a", "link"), new TextEncoder().encode("\0link\0a"));
 * ```
 */
export function wrapData(name: string, kind: SealedKind = "file"): Uint8Array {
  return encoder.encode(kind === "file" ? name : `\0${kind}\0${name}`);
}

/**
 * Whether a payload of `size` bytes starting with `start` is one this client sealed: the magic
 * bytes, and a size the format can have. A plain file that starts with "BKE1" and happens to
 * have such a size is taken for sealed.
 */
export function looksSealed(start: Uint8Array, size?: number): boolean {
  if (size !== undefined && plainSize(size) === undefined) return false;
  return start.length >= MAGIC.length && MAGIC.every((byte, i) => start[i] === byte);
}

/** Bytes of a folder's metadata, sealed in its marker: mode (4, big-endian), mtime (8, float). */
export const FOLDER_META_SIZE = 12;
/** The mode field of a folder's metadata when no mode is known. */
const NO_FOLDER_MODE = 0xffff_ffff;

/** A folder's metadata, as its sealed marker carries it. */
export interface FolderMeta {
  /** Permission bits, or `null`. */
  mode: number | null;
  /** Modification time, milliseconds since the epoch. */
  mtimeMs: number;
}

/** Encodes a folder's metadata for its sealed marker. */
export function encodeFolderMeta(meta: FolderMeta): Uint8Array {
  const bytes = new Uint8Array(FOLDER_META_SIZE);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, meta.mode ?? NO_FOLDER_MODE);
  view.setFloat64(4, meta.mtimeMs);
  return bytes;
}

/** Parses a folder's metadata; `undefined` if the bytes are not one. */
export function parseFolderMeta(bytes: Uint8Array): FolderMeta | undefined {
  if (bytes.length !== FOLDER_META_SIZE) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const mode = view.getUint32(0);
  const mtimeMs = view.getFloat64(4);
  if (!Number.isFinite(mtimeMs) || (mode !== NO_FOLDER_MODE && mode > 0o7777)) return undefined;
  return { mode: mode === NO_FOLDER_MODE ? null : mode, mtimeMs };
}
