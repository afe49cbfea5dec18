/**
 * The checks of a blob sent to a snapshot session: lengths against the limits, then its bytes
 * decoded (zstd with a cap of the raw length) and hashed against its id. A sealed blob (an
 * encrypted repository's, docs/keys_plan.md §2) is checked for its lengths and references only:
 * its id is the client's keyed HMAC, which the store cannot compute, so it is stored as sent.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { toHex } from "../common/hex.ts";
import { decodeBlob } from "../repository/blob_codec.ts";
import { LimitExceededError } from "./errors.ts";
import {
  BlobMismatchError,
  type IncomingBlob,
  MAX_STORED_OVERHEAD_BYTES,
  MAX_TREE_REFS,
  SNAPSHOT_ID_BYTES,
} from "./snapshots.ts";
import { rawLimitOf } from "./sealed_blobs.ts";

/**
 * Checks a blob as it arrived, before anything of it is stored.
 *
 * @throws {LimitExceededError} if a length is over its limit.
 * @throws {BlobMismatchError} if the bytes do not decode to `rawLength` bytes hashing to `id`; for
 *   a sealed blob, only if its length is not `rawLength`.
 */
export function checkBlob(blob: IncomingBlob): void {
  checkId(blob.id, "a blob");
  const what = `${blob.kind} blob ${toHex(blob.id)}`;
  const limit = rawLimitOf(blob.kind, blob.encoding);
  if (!Number.isSafeInteger(blob.rawLength) || blob.rawLength < 0 || blob.rawLength > limit) {
    throw new LimitExceededError(`${what} of ${blob.rawLength} bytes, over ${limit}`);
  }
  if (blob.bytes.length > blob.rawLength + MAX_STORED_OVERHEAD_BYTES) {
    throw new LimitExceededError(`${what}: ${blob.bytes.length} bytes sent for ${blob.rawLength}`);
  }
  if (blob.kind === "data" && blob.refs !== undefined && blob.refs.length > 0) {
    throw new BlobMismatchError(what, "a data blob references nothing");
  }
  if ((blob.refs?.length ?? 0) > MAX_TREE_REFS) {
    throw new LimitExceededError(`${what} names ${blob.refs!.length} blobs, over ${MAX_TREE_REFS}`);
  }
  for (const ref of blob.refs ?? []) checkId(ref, `a reference of ${what}`);
  if (blob.encoding === "sealed") {
    // Opaque: no decode, no hash (the id is keyed). Only the client can tell a bad seal.
    if (blob.bytes.length !== blob.rawLength) {
      throw new BlobMismatchError(what, `sealed, ${blob.bytes.length} bytes for ${blob.rawLength}`);
    }
    return;
  }
  let raw: Uint8Array;
  try {
    raw = decodeBlob(blob.bytes, blob.encoding === "zstd" ? "zstd" : "none", blob.rawLength);
  } catch (error) {
    throw new BlobMismatchError(what, error instanceof Error ? error.message : String(error));
  }
  if (!sameBytes(sha256(raw), blob.id)) {
    throw new BlobMismatchError(what, "its bytes hash otherwise");
  }
}

/** @throws {LimitExceededError} if `id` is not a SHA-256's length. */
export function checkId(id: Uint8Array, what: string): void {
  if (id.length !== SNAPSHOT_ID_BYTES) {
    throw new LimitExceededError(`${what}: an id of ${id.length} bytes, not ${SNAPSHOT_ID_BYTES}`);
  }
}

/** SHA-256 of `bytes`. */
export function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(bytes).digest());
}

/** Whether two byte arrays hold the same bytes. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
