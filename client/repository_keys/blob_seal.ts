/**
 * Keyed ids and sealed blobs of an encrypted repository (docs/keys_plan.md §2-3).
 *
 * - A blob's id is HMAC-SHA-256(id key, its raw bytes): equal chunks still share an id, and the
 *   server cannot test for a known file.
 * - `sealed = version 1 (1) | salt (16) | ChaCha20-Poly1305(K, 12 zero bytes, encoding (1) | bytes,
 *   aad) | tag (16)`, with `K = HMAC-SHA-256(encryption key, "backup blob key v1" | salt)`: a fresh
 *   key per blob, so a nonce never repeats however many blobs there are, and `aad = "backup blob
 *   v1\0" | kind (1) | id (32)`: a blob served for another id or kind does not open.
 * - A snapshot record is sealed the same way, kind `record`, with 32 zero bytes for the id (its id
 *   is the SHA-256 of the sealed bytes, which the server and the client both check).
 *
 * @example
 * ```ts
 * import { keyedId, openBlob, sealBlob } from "./blob_seal.ts";
 * import assert from "node:assert/strict";
 * const key = { encryption: new Uint8Array(32).fill(1), id: new Uint8Array(32).fill(2) };
 * const bytes = new TextEncoder().encode("a chunk");
 * const id = keyedId(key, bytes);
 * const sealed = sealBlob(key, { kind: "data", id, encoding: "raw", bytes });
 * assert.deepEqual(openBlob(key, { kind: "data", id, sealed }), { encoding: "raw", bytes });
 * assert.throws(() => openBlob(key, { kind: "tree", id, sealed }), /does not open/);
 * ```
 *
 * @module
 */
import { createCipheriv, createDecipheriv } from "node:crypto";
import { toHex } from "../../common/hex.ts";
import { SealBrokenError } from "./errors.ts";
import { KeyedHash } from "./keyed_hash.ts";

/** The two keys a repository's master key holds. */
export interface RepositoryKey {
  /** Seals blobs and records (through a key per blob). */
  encryption: Uint8Array;
  /** Makes blob ids. */
  id: Uint8Array;
}

/** What a sealed thing is: bound into its seal. */
export type SealKind = "data" | "tree" | "record";
/** How the bytes inside a seal are encoded. */
export type SealedEncoding = "raw" | "zstd";

/** The format's version byte. */
export const SEAL_VERSION = 1;
/** Bytes of a blob's salt. */
export const SEAL_SALT_BYTES = 16;
/** Bytes a seal adds: version, salt, encoding, tag. */
export const SEAL_OVERHEAD_BYTES = 1 + SEAL_SALT_BYTES + 1 + 16;

const KINDS: Record<SealKind, number> = { data: 0, tree: 1, record: 2 };
const ENCODINGS: SealedEncoding[] = ["raw", "zstd"];
const ENCODING_BYTES: Record<SealedEncoding, Uint8Array> = {
  raw: Uint8Array.of(ENCODINGS.indexOf("raw")),
  zstd: Uint8Array.of(ENCODINGS.indexOf("zstd")),
};
const KEY_CONTEXT = new TextEncoder().encode("backup blob key v1");
const AAD_CONTEXT = new TextEncoder().encode("backup blob v1\0");
const ZERO_NONCE = new Uint8Array(12);
const NO_ID = new Uint8Array(32);

/** The id of `raw` in the repository: HMAC-SHA-256 under the id key. */
export function keyedId(key: RepositoryKey, raw: Uint8Array): Uint8Array {
  return KeyedHash.of(key.id).bytes(raw);
}

/** The id of `raw` in the repository, as 64 lowercase hex digits. */
export function keyedIdHex(key: RepositoryKey, raw: Uint8Array): string {
  return KeyedHash.of(key.id).hex(raw);
}

/** What `sealBlob` seals. */
export interface SealInput {
  /** Bound into the seal. */
  kind: SealKind;
  /** The blob's keyed id (ignored for a record: see the module comment). */
  id: Uint8Array;
  /** How `bytes` are encoded (`zstd`: one frame of the raw bytes). */
  encoding: SealedEncoding;
  /** The bytes to seal. */
  bytes: Uint8Array;
  /** Tests only: the salt (random otherwise). */
  salt?: Uint8Array;
}

/** Seals a blob or a record (see the module comment). */
export function sealBlob(key: RepositoryKey, input: SealInput): Uint8Array {
  const salt = input.salt ?? crypto.getRandomValues(new Uint8Array(SEAL_SALT_BYTES));
  const cipher = createCipheriv("chacha20-poly1305", blobKey(key, salt), ZERO_NONCE, {
    authTagLength: 16,
  });
  cipher.setAAD(aadOf(input.kind, input.id), { plaintextLength: 1 + input.bytes.length });
  const out = new Uint8Array(SEAL_OVERHEAD_BYTES + input.bytes.length);
  out[0] = SEAL_VERSION;
  out.set(salt, 1);
  let at = 1 + SEAL_SALT_BYTES;
  for (const plain of [ENCODING_BYTES[input.encoding], input.bytes]) {
    const part = cipher.update(plain);
    out.set(part, at);
    at += part.length;
  }
  const end = cipher.final();
  out.set(end, at);
  at += end.length;
  out.set(cipher.getAuthTag(), at);
  return out;
}

/** What `openBlob` opens. */
export interface OpenInput {
  /** What it must have been sealed as. */
  kind: SealKind;
  /** The id it was asked for (ignored for a record). */
  id: Uint8Array;
  /** The sealed bytes. */
  sealed: Uint8Array;
}

/**
 * Opens a seal. @throws {SealBrokenError} if the bytes were changed or cut, or were sealed under
 * another key, as another kind or for another id.
 */
export function openBlob(
  key: RepositoryKey,
  input: OpenInput,
): { encoding: SealedEncoding; bytes: Uint8Array } {
  const { sealed, kind } = input;
  const what = kind === "record" ? "a snapshot record" : `${kind} blob ${toHex(input.id)}`;
  if (sealed.length < SEAL_OVERHEAD_BYTES || sealed[0] !== SEAL_VERSION) {
    throw new SealBrokenError(what);
  }
  const salt = sealed.subarray(1, 1 + SEAL_SALT_BYTES);
  const decipher = createDecipheriv("chacha20-poly1305", blobKey(key, salt), ZERO_NONCE, {
    authTagLength: 16,
  });
  decipher.setAAD(aadOf(kind, input.id), {
    plaintextLength: sealed.length - SEAL_OVERHEAD_BYTES + 1,
  });
  decipher.setAuthTag(sealed.subarray(sealed.length - 16));
  let plain: Uint8Array;
  try {
    const body = decipher.update(sealed.subarray(1 + SEAL_SALT_BYTES, sealed.length - 16));
    const end = decipher.final();
    plain = end.length === 0 ? body : joined(body, end);
  } catch {
    throw new SealBrokenError(what);
  }
  const encoding = ENCODINGS[plain[0]];
  if (encoding === undefined) throw new SealBrokenError(what);
  return { encoding, bytes: bytesOf(plain).subarray(1) };
}

function blobKey(key: RepositoryKey, salt: Uint8Array): Uint8Array {
  return KeyedHash.of(key.encryption).short(KEY_CONTEXT, salt);
}

function aadOf(kind: SealKind, id: Uint8Array): Uint8Array {
  const aad = new Uint8Array(AAD_CONTEXT.length + 1 + 32);
  aad.set(AAD_CONTEXT);
  aad[AAD_CONTEXT.length] = KINDS[kind];
  aad.set(kind === "record" ? NO_ID : id, AAD_CONTEXT.length + 1);
  return aad;
}

function joined(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

// node:crypto answers Buffers; callers compare and keep plain Uint8Arrays.
function bytesOf(buffer: Uint8Array): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}
