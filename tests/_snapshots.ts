/**
 * Blobs, trees and snapshot records for the snapshot store's tests: ids are real SHA-256s, trees
 * are opaque bytes (the store never reads them) sent with their references.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { IncomingBlob, SnapshotCommit } from "../storage/snapshots.ts";
import { encodeBlob } from "../repository/blob_codec.ts";
import { toHex } from "../common/hex.ts";
import type { SnapshotSummary } from "../protocol/v3/snapshot.ts";

/** SHA-256 of `bytes`. */
export function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(bytes).digest());
}

/** A data blob of `bytes`, sent as they are, or zstd when `compressed` and it pays. */
export function dataBlob(bytes: Uint8Array, compressed = false): IncomingBlob {
  const encoded = compressed ? encodeBlob(bytes) : { stored: bytes, compression: "none" };
  return {
    id: sha256(bytes),
    kind: "data",
    encoding: encoded.compression === "zstd" ? "zstd" : "raw",
    rawLength: bytes.length,
    bytes: encoded.stored,
  };
}

/** A tree naming `refs` (its bytes: the ids in hex and a label, so two labels give two trees). */
export function treeBlob(refs: Uint8Array[], label = ""): IncomingBlob {
  const bytes = new TextEncoder().encode(JSON.stringify({ label, refs: refs.map(toHex) }));
  return { id: sha256(bytes), kind: "tree", encoding: "raw", rawLength: bytes.length, bytes, refs };
}

/** A snapshot record on `tree` (its id: the record's SHA-256). */
export function snapshotOf(tree: IncomingBlob, label = ""): SnapshotCommit {
  const record = new TextEncoder().encode(JSON.stringify({ tree: toHex(tree.id), label }));
  return { id: sha256(record), tree: tree.id, record };
}

/** Bytes from a seed (xorshift), incompressible. */
export function noise(seed: number, size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

/** Whether two byte arrays hold the same bytes (here, not `_helpers.ts`: no server module). */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** What a snapshot record's summary says of a run that did nothing: for records in tests. */
export const EMPTY_SUMMARY: SnapshotSummary = {
  files: 0,
  dirs: 0,
  bytes: 0,
  filesNew: 0,
  filesChanged: 0,
  filesUnmodified: 0,
  bytesAdded: 0,
};
