/**
 * Blobs between the archiver's and restorer's terms (`client/snapshot/blobs.ts`: hex ids, raw
 * bytes) and version 3 frames: a blob to send is compressed when that pays (the repository's
 * `encodeBlob` rule), a blob received is decoded with a cap of its declared raw length (itself
 * within its kind's limit, checked by the codec before a byte of it is read) and checked against
 * the SHA-256 it was asked for. Nothing the server sends is trusted.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { CorruptBlobError, decodeBlob, encodeBlob } from "../repository/blob_codec.ts";
import {
  BlobEncoding,
  BlobKind,
  ID_SIZE,
  OpV3,
  StatusV3,
  TAGGED_REQUEST_HEAD_SIZE,
} from "../protocol/v3/constants.ts";
import type { PutBlobRequest } from "../protocol/v3/requests.ts";
import type { ResponseV3 } from "../protocol/v3/responses.ts";
import {
  type BlobId,
  type BlobKind as KindName,
  BlobUnavailableError,
  type OutgoingBlob,
} from "./snapshot/blobs.ts";

/** Bytes of a PutBlob's fixed fields after the tagged head: id, kind, encoding, lengths, refs. */
const PUT_FIELDS_BYTES = ID_SIZE + 1 + 1 + 4 + 4 + 4;

const HEX_ID = /^[0-9a-f]{64}$/;

/**
 * The 32 bytes of a hex id.
 *
 * @throws {RangeError} unless `id` is 64 lowercase hex digits.
 * @example
 * ```ts
 * import { idBytes } from "./blob_wire_v3.ts";
 * import assert from "node:assert/strict";
 * assert.equal(idBytes("ab".repeat(32))[0], 0xab);
 * ```
 */
export function idBytes(id: BlobId): Uint8Array {
  if (!HEX_ID.test(id)) throw new RangeError(`not a blob id (64 lowercase hex digits): ${id}`);
  return Uint8Array.fromHex(id);
}

/** The SHA-256 of `bytes` as a hex id. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** The most bytes a PutBlob of `blob` takes on the wire (its raw bytes are never exceeded). */
export function putFrameBound(blob: OutgoingBlob): number {
  return TAGGED_REQUEST_HEAD_SIZE + PUT_FIELDS_BYTES + (blob.refs?.length ?? 0) * ID_SIZE +
    blob.raw.length;
}

/** The PutBlob for `blob` (its bytes compressed when that pays), without user id and tag. */
export function putRequest(blob: OutgoingBlob): Omit<PutBlobRequest, "userId" | "tag"> {
  const { stored, compression } = encodeBlob(blob.raw);
  return {
    op: OpV3.PutBlob,
    id: idBytes(blob.id),
    kind: blob.kind === "tree" ? BlobKind.Tree : BlobKind.Data,
    encoding: compression === "zstd" ? BlobEncoding.Zstd : BlobEncoding.Raw,
    rawLength: blob.raw.length,
    refs: (blob.refs ?? []).map(idBytes),
    bytes: stored,
  };
}

/**
 * The raw bytes of the blob `id` from the server's answer to its GetBlob: decoded (zstd never
 * yields more than the declared raw length) and checked against `id`.
 *
 * @throws {BlobUnavailableError} for a blob of another kind, bytes that do not decode to their
 *   declared length, or bytes whose SHA-256 is not `id`.
 */
export function checkedBlob(id: BlobId, kind: KindName, answer: ResponseV3): Uint8Array {
  if (answer.status !== StatusV3.Blob) {
    throw new BlobUnavailableError(id, `answered with status ${answer.status}`);
  }
  const sent: KindName = answer.kind === BlobKind.Tree ? "tree" : "data";
  if (sent !== kind) throw new BlobUnavailableError(id, `asked for a ${kind} blob, got a ${sent}`);
  let raw: Uint8Array;
  try {
    raw = decodeBlob(
      answer.bytes,
      answer.encoding === BlobEncoding.Zstd ? "zstd" : "none",
      answer.rawLength,
    );
  } catch (error) {
    if (!(error instanceof CorruptBlobError)) throw error;
    throw new BlobUnavailableError(id, `the bytes sent do not decode: ${error.message}`);
  }
  const got = sha256Hex(raw);
  if (got !== id) {
    throw new BlobUnavailableError(
      id,
      `the bytes sent do not match the id (their SHA-256 is ${got})`,
    );
  }
  return raw;
}

/** A 32-byte id as hex (for ids the server sends: a 234's, a list's). */
export function hexId(id: Uint8Array): string {
  return id.toHex();
}
