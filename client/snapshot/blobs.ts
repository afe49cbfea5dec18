/**
 * What the archiver and the restorer talk to: a user's blobs on the server, seen as a sink (ask
 * which ids it lacks, send blobs) and a source (fetch a blob, checked). The v3 session implements
 * both over one pipelined connection; tests use an in-memory one. Neither side waits for an
 * answer before asking the next thing: every call returns a promise, and many may be in flight.
 *
 * @module
 */
import { BackupError } from "../../common/backup_error.ts";

/**
 * A blob id: the SHA-256 of the blob's raw bytes (32 bytes), or in an encrypted repository their
 * HMAC-SHA-256 under its id key, as 64 lowercase hex digits.
 */
export type BlobId = string;

/** What a blob is: a piece of a file, or a folder's tree (which names other blobs). */
export type BlobKind = "data" | "tree";

/** A blob to send. */
export interface OutgoingBlob {
  id: BlobId;
  kind: BlobKind;
  /** The raw bytes (the sink compresses them when that pays, and hashes nothing again). */
  raw: Uint8Array;
  /** For a tree: every id it names, each once (`treeRefs`). */
  refs?: BlobId[];
}

/** Where blobs go. */
export interface BlobSink {
  /**
   * The id of a blob of these raw bytes where they go: the keyed id of an encrypted repository.
   * Without it, the SHA-256 (`blobIdOf`).
   */
  blobId?(raw: Uint8Array): BlobId;
  /** For each id, whether the server lacks it (true) or has it (false). */
  missing(ids: BlobId[]): Promise<boolean[]>;
  /** Sends a blob; resolves once the server has stored it. */
  put(blob: OutgoingBlob): Promise<void>;
}

/** Where blobs come from. */
export interface BlobSource {
  /**
   * The blob's raw bytes, decoded and checked against its id.
   *
   * @throws {BlobUnavailableError} if the server has no such blob or sent bytes that do not match.
   */
  get(id: BlobId, kind: BlobKind): Promise<Uint8Array>;
}

/** A blob the server does not have, or sent wrong: the snapshot that names it cannot be read whole. */
export class BlobUnavailableError extends BackupError {
  /**
   * @param id the blob asked for
   * @param reason what went wrong
   */
  constructor(readonly id: BlobId, reason: string) {
    super(`blob ${id.slice(0, 16)}…: ${reason}`);
  }
}
