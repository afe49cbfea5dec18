/**
 * The fields that describe a blob's bytes (kind, encoding, raw and stored length), shared by a
 * PutBlob request and a 232 answer, and the limits they must keep. Internal to the codec.
 *
 * @module
 */
import type { FieldReader } from "../v2/fields.ts";
import {
  BlobEncoding,
  BlobKind,
  MAX_DATA_BLOB_BYTES,
  MAX_SEAL_OVERHEAD,
  MAX_STORED_OVERHEAD,
  MAX_TREE_BYTES,
} from "./constants.ts";

/** How a blob's bytes are described on the wire. */
export interface BlobHead {
  /** Data chunk or tree. */
  kind: BlobKind;
  /** Raw, zstd or sealed. */
  encoding: BlobEncoding;
  /** Bytes once decoded: what the id is the SHA-256 of (sealed: the sealed bytes' length). */
  rawLength: number;
  /** Bytes as sent and stored. */
  storedLength: number;
}

/** Bytes of the blob head: kind 1, encoding 1, raw length 4, stored length 4. */
export const BLOB_HEAD_SIZE = 1 + 1 + 4 + 4;

/**
 * The reason a blob head breaks the limits, or `undefined` when it keeps them: a known kind and
 * encoding, a raw length of 1..8 MiB (data) or 1..32 MiB (tree), 64 bytes more when sealed
 * (`MAX_SEAL_OVERHEAD`), a stored length equal to the raw one when raw or sealed, at most 64 KiB
 * over it when zstd.
 */
export function blobHeadFault(head: BlobHead): string | undefined {
  if (head.kind !== BlobKind.Data && head.kind !== BlobKind.Tree) {
    return `unknown blob kind ${head.kind}`;
  }
  const sealed = head.encoding === BlobEncoding.Sealed;
  if (head.encoding !== BlobEncoding.Raw && head.encoding !== BlobEncoding.Zstd && !sealed) {
    return `unknown blob encoding ${head.encoding}`;
  }
  // A seal wraps what would have been sent plain, so it may pass the kind's limit by its overhead.
  const max = (head.kind === BlobKind.Data ? MAX_DATA_BLOB_BYTES : MAX_TREE_BYTES) +
    (sealed ? MAX_SEAL_OVERHEAD : 0);
  const what = (sealed ? "sealed " : "") + (head.kind === BlobKind.Data ? "data blob" : "tree");
  if (!isLength(head.rawLength, 1, max)) {
    return `${what} of ${head.rawLength} raw bytes, must be 1..${max}`;
  }
  if (head.encoding !== BlobEncoding.Zstd && head.storedLength !== head.rawLength) {
    return `${sealed ? "" : "raw "}${what} of ${head.rawLength} bytes sent as ${head.storedLength}`;
  }
  if (!isLength(head.storedLength, 1, head.rawLength + MAX_STORED_OVERHEAD)) {
    return `${what} of ${head.rawLength} raw bytes stored as ${head.storedLength}, ` +
      `must be 1..${head.rawLength + MAX_STORED_OVERHEAD}`;
  }
  return undefined;
}

/** Reads a blob head, refusing it through `fail` as soon as a field breaks the limits. */
export function readBlobHead(reader: FieldReader, fail: (message: string) => never): BlobHead {
  // Each field is checked as soon as it is in: the lengths long before the bytes.
  const kind = reader.u8() as BlobKind;
  if (kind !== BlobKind.Data && kind !== BlobKind.Tree) fail(`unknown blob kind ${kind}`);
  const encoding = reader.u8() as BlobEncoding;
  const early = blobHeadFault({ kind, encoding, rawLength: 1, storedLength: 1 });
  if (early) fail(early);
  const rawLength = reader.u32();
  const storedLength = reader.u32();
  const fault = blobHeadFault({ kind, encoding, rawLength, storedLength });
  if (fault) fail(fault);
  return { kind, encoding, rawLength, storedLength };
}

function isLength(value: number, min: number, max: number): boolean {
  return Number.isSafeInteger(value) && value >= min && value <= max;
}
