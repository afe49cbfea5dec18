/**
 * The codec of an encrypted repository (docs/keys_plan.md §2-3): a blob's id is the HMAC-SHA-256
 * of its raw bytes under the repository's id key; its bytes are compressed when that pays, then
 * sealed (ChaCha20-Poly1305, bound to its kind and id) and sent with the wire's `sealed`
 * encoding; a snapshot record is sealed as kind `record`. What comes back is opened, decoded
 * within its kind's limit, and its keyed id computed again: a blob the server changed, cut,
 * swapped for another id or kind, or took from another repository does not pass.
 *
 * @example
 * ```ts
 * import { SealedCodec } from "./sealed_codec_v3.ts";
 * import { newMasterKey } from "./repository_keys/key_slot.ts";
 * import { BlobKind, StatusV3 } from "../protocol/v3/constants.ts";
 * import assert from "node:assert/strict";
 * const codec = new SealedCodec(newMasterKey());
 * const raw = new TextEncoder().encode("a chunk, twice: a chunk, twice");
 * const id = codec.blobId(raw);
 * const { encoding, rawLength, bytes } = codec.putFields({ id, kind: "data", raw });
 * const answer = { status: StatusV3.Blob, tag: 1, kind: BlobKind.Data, encoding, rawLength, bytes };
 * assert.deepEqual(codec.blobOf(id, "data", answer), raw);
 * const record = codec.sealRecord(raw);
 * assert.deepEqual(codec.openRecord(record), raw);
 * ```
 *
 * @module
 */
import {
  BlobEncoding,
  MAX_DATA_BLOB_BYTES,
  MAX_TREE_BYTES,
  MIN_TREE_BYTES_PER_REF,
  type StatusV3,
} from "../protocol/v3/constants.ts";
import type { ResponseV3 } from "../protocol/v3/responses.ts";
import {
  CorruptBlobError,
  declaredRawLength,
  decodeBlob,
  encodeBlob,
} from "../repository/blob_codec.ts";
import { type BlobCodec, idBytes, type PutFields } from "./blob_wire_v3.ts";
import { keyedIdHex, openBlob, type RepositoryKey, sealBlob } from "./repository_keys/blob_seal.ts";
import { SealBrokenError } from "./repository_keys/errors.ts";
import {
  type BlobId,
  type BlobKind,
  BlobUnavailableError,
  type OutgoingBlob,
} from "./snapshot/blobs.ts";

const NO_ID = new Uint8Array(32);

/** See the module comment. */
export class SealedCodec implements BlobCodec {
  readonly encrypted = true;
  readonly #key: RepositoryKey;

  /** @param key the repository's master key (from a key slot) */
  constructor(key: RepositoryKey) {
    this.#key = key;
  }

  /** HMAC-SHA-256 of `raw` under the id key, as hex. */
  blobId(raw: Uint8Array): BlobId {
    return keyedIdHex(this.#key, raw);
  }

  /**
   * Compressed when that pays, then sealed; the raw length on the wire is the seal's. A tree stays
   * uncompressed when compression would leave fewer than `MIN_TREE_BYTES_PER_REF` declared bytes
   * per ref: the server refuses such a tree (its refs are bounded by the declared length).
   */
  putFields(blob: OutgoingBlob): PutFields {
    const encoded = encodeBlob(blob.raw);
    const { stored, compression } =
      encoded.stored.length < (blob.refs?.length ?? 0) * MIN_TREE_BYTES_PER_REF
        ? { stored: blob.raw, compression: "none" }
        : encoded;
    const sealed = sealBlob(this.#key, {
      kind: blob.kind,
      id: idBytes(blob.id),
      encoding: compression === "zstd" ? "zstd" : "raw",
      bytes: stored,
    });
    return { encoding: BlobEncoding.Sealed, rawLength: sealed.length, bytes: sealed };
  }

  /** Opened, decoded within `kind`'s limit, and its keyed id checked. */
  blobOf(
    id: BlobId,
    kind: BlobKind,
    answer: ResponseV3 & { status: typeof StatusV3.Blob },
  ): Uint8Array {
    if (answer.encoding !== BlobEncoding.Sealed) {
      throw new BlobUnavailableError(id, "sent unsealed to a client of an encrypted repository");
    }
    let raw: Uint8Array;
    try {
      const opened = openBlob(this.#key, { kind, id: idBytes(id), sealed: answer.bytes });
      const limit = kind === "tree" ? MAX_TREE_BYTES : MAX_DATA_BLOB_BYTES;
      const rawLength = opened.encoding === "zstd"
        ? declaredRawLength(opened.bytes)
        : opened.bytes.length;
      if (rawLength > limit) throw new CorruptBlobError(`${rawLength} bytes, over ${limit}`);
      raw = decodeBlob(opened.bytes, opened.encoding === "zstd" ? "zstd" : "none", rawLength);
    } catch (error) {
      if (error instanceof SealBrokenError || error instanceof CorruptBlobError) {
        throw new BlobUnavailableError(id, error.message);
      }
      throw error;
    }
    if (this.blobId(raw) !== id) {
      // Only the holder of the key can seal: this is a bug on the sealing side, or a forgery.
      throw new BlobUnavailableError(id, "it opens, but its bytes are not the blob named");
    }
    return raw;
  }

  /** Sealed as kind `record`. */
  sealRecord(record: Uint8Array): Uint8Array {
    return sealBlob(this.#key, { kind: "record", id: NO_ID, encoding: "raw", bytes: record });
  }

  /** @throws {SealBrokenError} for a record not sealed under this key, or changed. */
  openRecord(sent: Uint8Array): Uint8Array {
    const { encoding, bytes } = openBlob(this.#key, { kind: "record", id: NO_ID, sealed: sent });
    if (encoding !== "raw") throw new SealBrokenError("a snapshot record");
    return bytes;
  }
}
