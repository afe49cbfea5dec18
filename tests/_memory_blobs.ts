/**
 * An in-memory blob store for the archiver's and the restorer's tests: a `BlobSink` and a
 * `BlobSource` that checks every id as the server does, counts what crossed, and can be told to
 * lie (a hostile server).
 *
 * @module
 */
import { createHash } from "node:crypto";
import {
  type BlobId,
  type BlobKind,
  type BlobSink,
  type BlobSource,
  BlobUnavailableError,
  type OutgoingBlob,
} from "../client/snapshot/blobs.ts";

/** The SHA-256 of `bytes` as a blob id. */
export function blobIdOf(bytes: Uint8Array): BlobId {
  return createHash("sha256").update(bytes).digest("hex");
}

/** A stored blob. */
export interface MemoryBlob {
  kind: BlobKind;
  raw: Uint8Array;
  refs?: BlobId[];
}

/** A user's blobs in memory; see the module comment. */
export class MemoryBlobs implements BlobSink, BlobSource {
  readonly blobs = new Map<BlobId, MemoryBlob>();
  /** Counts of calls and bytes, for tests that check what was sent. */
  readonly counts = { missingCalls: 0, idsAsked: 0, puts: 0, bytesPut: 0, gets: 0, bytesGot: 0 };
  /** Replaces what `get` answers (a hostile server); the default answers the truth. */
  lie?: (id: BlobId, blob: MemoryBlob | undefined) => Uint8Array | undefined;

  missing(ids: BlobId[]): Promise<boolean[]> {
    this.counts.missingCalls++;
    this.counts.idsAsked += ids.length;
    return Promise.resolve(ids.map((id) => !this.blobs.has(id)));
  }

  put(blob: OutgoingBlob): Promise<void> {
    if (blobIdOf(blob.raw) !== blob.id) {
      return Promise.reject(new Error(`blob ${blob.id}: bytes do not match the id`));
    }
    this.counts.puts++;
    this.counts.bytesPut += blob.raw.length;
    if (!this.blobs.has(blob.id)) {
      this.blobs.set(blob.id, { kind: blob.kind, raw: blob.raw.slice(), refs: blob.refs });
    }
    return Promise.resolve();
  }

  get(id: BlobId, kind: BlobKind): Promise<Uint8Array> {
    this.counts.gets++;
    const blob = this.blobs.get(id);
    const raw = this.lie ? this.lie(id, blob) : blob?.raw;
    if (!raw) return Promise.reject(new BlobUnavailableError(id, "no such blob"));
    if (blobIdOf(raw) !== id || (blob && blob.kind !== kind)) {
      return Promise.reject(new BlobUnavailableError(id, "the bytes sent do not match the id"));
    }
    this.counts.bytesGot += raw.length;
    return Promise.resolve(raw);
  }
}
