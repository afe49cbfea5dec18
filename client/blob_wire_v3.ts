/**
 * Blobs between the archiver's and restorer's terms (`client/snapshot/blobs.ts`: hex ids, raw
 * bytes) and version 3 frames, through the repository's `BlobCodec`. The plain one (`PLAIN_CODEC`)
 * names a blob by its SHA-256, compresses it when that pays (the repository's `encodeBlob` rule),
 * and decodes a blob received with a cap of its declared raw length (itself within its kind's
 * limit, checked by the codec before a byte of it is read), checked against the SHA-256 it was
 * asked for; an encrypted repository's (`sealed_codec_v3.ts`) keys, seals and opens them. Nothing
 * the server sends is trusted.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { CorruptBlobError, decodeBlob, encodeBlob } from "../repository/blob_codec.ts";
import {
  BlobEncoding,
  BlobKind,
  ID_SIZE,
  MAX_SEAL_OVERHEAD,
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

/** How a blob's bytes go in a PutBlob. */
export type PutFields = Pick<PutBlobRequest, "encoding" | "rawLength" | "bytes">;

/**
 * What names, encodes and checks a repository's blobs and snapshot records: plain
 * (`PLAIN_CODEC`), or an encrypted repository's (`SealedCodec`).
 */
export interface BlobCodec {
  /** Whether blobs and records are sealed. */
  readonly encrypted: boolean;
  /** The id of a blob of these raw bytes in this repository. */
  blobId(raw: Uint8Array): BlobId;
  /** How `blob` is sent. */
  putFields(blob: OutgoingBlob): PutFields;
  /**
   * The raw bytes of the blob `id` of kind `kind` from the server's 232, checked.
   *
   * @throws {BlobUnavailableError} for anything but the blob asked for.
   */
  blobOf(
    id: BlobId,
    kind: KindName,
    answer: ResponseV3 & { status: typeof StatusV3.Blob },
  ): Uint8Array;
  /** A snapshot record as sent (its id is the SHA-256 of these bytes). */
  sealRecord(record: Uint8Array): Uint8Array;
  /** A snapshot record as listed, opened. @throws {SealBrokenError} (sealed only) */
  openRecord(sent: Uint8Array): Uint8Array;
}

/** A plain repository's codec: SHA-256 ids, zstd when it pays, records as they are. */
export const PLAIN_CODEC: BlobCodec = {
  encrypted: false,
  blobId: sha256Hex,
  putFields(blob: OutgoingBlob): PutFields {
    const { stored, compression } = encodeBlob(blob.raw);
    const encoding = compression === "zstd" ? BlobEncoding.Zstd : BlobEncoding.Raw;
    return { encoding, rawLength: blob.raw.length, bytes: stored };
  },
  blobOf: plainBlob,
  sealRecord: (record) => record,
  openRecord: (sent) => sent,
};

/**
 * The most bytes a PutBlob of `blob` takes on the wire: its raw bytes are never exceeded (zstd is
 * kept only when smaller), but a seal adds its overhead.
 */
export function putFrameBound(blob: OutgoingBlob, codec: BlobCodec = PLAIN_CODEC): number {
  return TAGGED_REQUEST_HEAD_SIZE + PUT_FIELDS_BYTES + (blob.refs?.length ?? 0) * ID_SIZE +
    blob.raw.length + (codec.encrypted ? MAX_SEAL_OVERHEAD : 0);
}

/** The PutBlob for `blob` as `codec` encodes it, without user id and tag. */
export function putRequest(
  blob: OutgoingBlob,
  codec: BlobCodec = PLAIN_CODEC,
): Omit<PutBlobRequest, "userId" | "tag"> {
  return {
    op: OpV3.PutBlob,
    id: idBytes(blob.id),
    kind: blob.kind === "tree" ? BlobKind.Tree : BlobKind.Data,
    refs: (blob.refs ?? []).map(idBytes),
    ...codec.putFields(blob),
  };
}

/**
 * The raw bytes of the blob `id` from the server's answer to its GetBlob, as `codec` checks them.
 *
 * @throws {BlobUnavailableError} for another status, a blob of another kind, or one that is not
 *   `id`'s.
 */
export function checkedBlob(
  id: BlobId,
  kind: KindName,
  answer: ResponseV3,
  codec: BlobCodec = PLAIN_CODEC,
): Uint8Array {
  if (answer.status !== StatusV3.Blob) {
    throw new BlobUnavailableError(id, `answered with status ${answer.status}`);
  }
  const sent: KindName = answer.kind === BlobKind.Tree ? "tree" : "data";
  if (sent !== kind) throw new BlobUnavailableError(id, `asked for a ${kind} blob, got a ${sent}`);
  return codec.blobOf(id, kind, answer);
}

/**
 * A plain blob: decoded (zstd never yields more than the declared raw length) and checked
 * against its SHA-256.
 */
function plainBlob(
  id: BlobId,
  _kind: KindName,
  answer: ResponseV3 & { status: typeof StatusV3.Blob },
): Uint8Array {
  if (answer.encoding === BlobEncoding.Sealed) {
    throw new BlobUnavailableError(id, "sent sealed to a client of a plain repository");
  }
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
