/**
 * The snapshot repository a store may offer (protocol version 3, docs/snapshots_plan.md §3): per
 * user, a content-addressed store of blobs (data chunks and trees) plus a list of snapshots. The
 * store checks every blob against its id, never parses a tree or a snapshot record (a tree comes
 * with the ids it references), and commits a snapshot only once everything it references is
 * stored. The embedded engine implements it (`storage/embedded/snapshot_store.ts`).
 *
 * @module
 */
import { VERSION_OVERHEAD_BYTES } from "./quota_charge.ts";
import { MAX_CHUNK_SIZE } from "../chunking/fastcdc.ts";
import { MAX_TREE_BYTES } from "../protocol/v3/tree.ts";
import { MAX_SNAPSHOT_RECORD_BYTES } from "../protocol/v3/snapshot.ts";
import {
  KEY_SLOT_ID_BYTES,
  KEY_SLOT_ID_OFFSET,
  MAX_KEY_SLOT_BYTES,
  MAX_KEY_SLOTS,
} from "../protocol/v3/key_slots.ts";

import { KeySlotLimitError } from "./snapshot_errors.ts";

export { MAX_SNAPSHOT_RECORD_BYTES, MAX_TREE_BYTES };
// The repository's errors live in their own module; callers import them from here as well.
export {
  BlobMismatchError,
  EncryptedAlreadyError,
  KeySlotConflictError,
  KeySlotLimitError,
  LastKeySlotError,
  NoSuchBlobError,
  NoSuchKeySlotError,
  NoSuchSnapshotError,
  PlainSnapshotsError,
  PruneBusyError,
  RepositoryModeError,
  SessionClosedError,
} from "./snapshot_errors.ts";

/** Bytes of a blob id and of a snapshot id (a SHA-256). */
export const SNAPSHOT_ID_BYTES = 32;
/** A data blob's raw bytes are at most the chunker's largest chunk. */
export const MAX_DATA_BLOB_BYTES = MAX_CHUNK_SIZE;
/** A blob's stored bytes are at most its raw length plus this (zstd's worst case is far less). */
export const MAX_STORED_OVERHEAD_BYTES = 64 * 1024;
/** Ids asked about in one `missing`, and ids a commit answers as missing, at most. */
export const MAX_MISSING_IDS = 8192;
/** A tree names at most this many blobs (each entry's chunks and subtree, deduplicated). */
export const MAX_TREE_REFS = MAX_TREE_BYTES / SNAPSHOT_ID_BYTES;
/** How long blobs of a session that never committed are kept for the next run, by default. */
export const DEFAULT_BLOB_GRACE_MS = 24 * 60 * 60 * 1000;

/** What a blob is: a piece of a file, or a folder (a tree, which references other blobs). */
export type BlobKind = "data" | "tree";
/**
 * How a blob's bytes are sent and stored: as they are, one zstd frame, or sealed by the client of
 * an encrypted repository (stored as sent; its raw length is its length; only the client can check
 * it against its id).
 */
export type BlobEncoding = "raw" | "zstd" | "sealed";

/** A blob as a client sends it. */
export interface IncomingBlob {
  /** SHA-256 of the raw bytes: checked before anything is stored. */
  id: Uint8Array;
  /** A file's chunk, or a folder's tree. */
  kind: BlobKind;
  /** How `bytes` are encoded. */
  encoding: BlobEncoding;
  /** Bytes once decoded. */
  rawLength: number;
  /** The bytes as sent (and stored). */
  bytes: Uint8Array;
  /** Trees only: every blob id the tree names, deduplicated. */
  refs?: Uint8Array[];
  /**
   * Whether the caller gives `bytes` up to the store (it never reads or writes them again): kept
   * as they are, not copied. @default false
   */
  handedOver?: boolean;
}

/** A blob as the store holds it: the client decodes and checks it. */
export interface StoredBlob {
  /** A file's chunk, or a folder's tree. */
  kind: BlobKind;
  /** How `bytes` are encoded. */
  encoding: BlobEncoding;
  /** Bytes once decoded. */
  rawLength: number;
  /** The bytes as stored. */
  bytes: Uint8Array;
}

/** A committed snapshot. */
export interface StoredSnapshot {
  /** SHA-256 of `record`. */
  id: Uint8Array;
  /** The root tree's id. */
  tree: Uint8Array;
  /** When the store committed it (ms since the epoch). */
  storedMs: number;
  /** The client's record, as sent. */
  record: Uint8Array;
}

/** What a commit is given. */
export interface SnapshotCommit {
  /** SHA-256 of `record`. */
  id: Uint8Array;
  /** The root tree's id. */
  tree: Uint8Array;
  /** The client's record (at most `MAX_SNAPSHOT_RECORD_BYTES`). */
  record: Uint8Array;
}

/**
 * One upload session of one user (a v3 connection's backup run). Its calls run one at a time, in
 * the order they are made.
 */
export interface SnapshotSession {
  /**
   * Which of `ids` the store lacks (true = missing), among the user's blobs and those this
   * session received.
   *
   * @throws {LimitExceededError} if more than `MAX_MISSING_IDS` ids are asked about.
   */
  missing(ids: Uint8Array[]): Promise<boolean[]>;
  /**
   * Checks the blob's bytes against its id and stores it (or not, if the store has it).
   *
   * @throws {BlobMismatchError} if the bytes do not decode to `rawLength` bytes hashing to `id`
   *   (nothing stored; the session goes on).
   * @throws {LimitExceededError} if a length is over its limit.
   * @throws {QuotaExceededError} if storing it would take the user past the quota.
   */
  put(blob: IncomingBlob): Promise<void>;
  /**
   * Makes the session's blobs and the snapshot durable in one commit, or answers the ids of
   * blobs it references that the store lacks (`MAX_MISSING_IDS` at most; nothing committed then:
   * send them and commit again). Committing a snapshot that exists already succeeds.
   *
   * @throws {BlobMismatchError} if the record's SHA-256 is not `id`.
   * @throws {LimitExceededError} if the record is over `MAX_SNAPSHOT_RECORD_BYTES`.
   * @throws {QuotaExceededError} if the commit would take the user past the quota.
   */
  commit(snapshot: SnapshotCommit): Promise<{ missing: Uint8Array[] }>;
  /**
   * Ends the session; blobs received and not committed are kept unreferenced for the grace period,
   * so that the next run's `missing` finds them. Safe to call more than once.
   */
  close(): Promise<void>;
}

/** Reads one user's blobs, keeping what helps the next read (`SnapshotRepository.blobReader`). */
export interface BlobReader {
  /** A blob as stored, as `readBlob` reads it. @throws {NoSuchBlobError} */
  read(id: Uint8Array): Promise<StoredBlob>;
  /** Lets go of what it keeps; reads after it still work, as `readBlob`. */
  close(): void;
}

/** What a v3 session asks of the store (see the module comment). */
export interface SnapshotRepository {
  /**
   * A new upload session: until it ends, garbage collection removes no blob it relies on
   * (sessions pin by time: docs/snapshots_plan.md §3).
   */
  openSession(userId: number): SnapshotSession;
  /** The user's snapshots, oldest stored first. */
  listSnapshots(userId: number): AsyncIterable<StoredSnapshot>;
  /** A blob as stored. @throws {NoSuchBlobError} */
  readBlob(userId: number, id: Uint8Array): Promise<StoredBlob>;
  /**
   * Optional: a reader of the user's blobs for one connection's many reads (`readBlob`
   * otherwise). It may keep packs open between reads; its owner closes it.
   */
  blobReader?(userId: number): BlobReader;
  /**
   * Forgets a snapshot; what only it referenced goes at the next garbage collection.
   *
   * @throws {NoSuchSnapshotError} if the user has no snapshot of that id.
   * @throws {DeleteRefusedError} if the user is append-only.
   */
  forgetSnapshot(userId: number, id: Uint8Array): Promise<void>;
  /**
   * Runs garbage collection now for the user's repository (`Prune`, docs/keys_plan.md §6): what
   * no snapshot references goes, except blobs younger than the grace period and those an open
   * session may rely on. A call while a run is under way waits for it, then runs once more (calls
   * meanwhile share that run).
   *
   * @returns what the user's usage dropped by, and the user's packs removed (or repacked away).
   * @throws {DeleteRefusedError} if the user is append-only.
   * @throws {PruneBusyError} if another server holds the prune lock (S3).
   */
  prune(userId: number): Promise<PruneReport>;
  /**
   * Forgets blobs of the user found damaged (`DropBlobs`, docs/keys_plan.md §7): each blob the
   * user has is read again and dropped only if its bytes do not decode to bytes hashing to its
   * id; the next `missing` reports the dropped ones and a commit whose snapshot reaches one
   * answers it missing, so that a backup sends it again (what referenced it stays).
   *
   * @returns the ids dropped (those found good, or not held, stay as they are).
   * @throws {DeleteRefusedError} if the user is append-only.
   * @throws {LimitExceededError} if more than `MAX_MISSING_IDS` ids are given.
   */
  dropBlobs(userId: number, ids: Uint8Array[]): Promise<Uint8Array[]>;
  /**
   * The user's key slots (docs/keys_plan.md §1: the master key wrapped, opaque to the store), in
   * the order of their slot ids; none for a plain repository.
   */
  listKeySlots(userId: number): Promise<Uint8Array[]>;
  /**
   * Adds a key slot (its id: bytes `KEY_SLOT_ID_OFFSET` to `+ KEY_SLOT_ID_BYTES`, nothing else
   * read). A slot of that id with the same bytes succeeds unchanged. Charged against the quota as a
   * snapshot record is (its bytes + `VERSION_OVERHEAD_BYTES`). Allowed to append-only users.
   *
   * @throws {KeySlotLimitError} if the slot is shorter than an id or over `MAX_KEY_SLOT_BYTES`,
   *   or the user has `MAX_KEY_SLOTS` already.
   * @throws {KeySlotConflictError} if a slot of that id holds other bytes.
   * @throws {PlainSnapshotsError} if it would be the user's first slot and the user has
   *   snapshots (plan §2 "No silent mixing": a repository is encrypted once it has a slot).
   * @throws {EncryptedAlreadyError} with `options.first` (an `init`) if the user has a slot of
   *   another id: two inits at once must not make two master keys.
   * @throws {QuotaExceededError} if it would take the user past the quota.
   */
  addKeySlot(userId: number, slot: Uint8Array, options?: { first?: boolean }): Promise<void>;
  /**
   * Removes a key slot; never the last one.
   *
   * @throws {DeleteRefusedError} if the user is append-only.
   * @throws {NoSuchKeySlotError} if the user has no slot of that id.
   * @throws {LastKeySlotError} if it is the user's only slot.
   */
  removeKeySlot(userId: number, slotId: Uint8Array): Promise<void>;
}

// The limits of key slots are the protocol's (`protocol/v3/key_slots.ts`): a decoder checks them
// before it allocates.
export { KEY_SLOT_ID_BYTES, KEY_SLOT_ID_OFFSET, MAX_KEY_SLOT_BYTES, MAX_KEY_SLOTS };

/**
 * Bytes a key slot is charged against the quota besides its own, as a snapshot record is: a
 * version's overhead (`VERSION_OVERHEAD_BYTES`: its row or object and its index entries).
 */
export const KEY_SLOT_OVERHEAD_BYTES = VERSION_OVERHEAD_BYTES;

/** What a key slot of `slotBytes` is charged against the quota, by every engine. */
export function keySlotCharge(slotBytes: number): number {
  return slotBytes + KEY_SLOT_OVERHEAD_BYTES;
}

/**
 * A key slot's id (a view of `slot`'s bytes `KEY_SLOT_ID_OFFSET` to `+ KEY_SLOT_ID_BYTES`).
 *
 * @throws {KeySlotLimitError} if the slot is shorter than its id or over `MAX_KEY_SLOT_BYTES`.
 */
export function keySlotId(slot: Uint8Array): Uint8Array {
  if (slot.length < KEY_SLOT_ID_OFFSET + KEY_SLOT_ID_BYTES || slot.length > MAX_KEY_SLOT_BYTES) {
    throw new KeySlotLimitError(
      `a key slot of ${slot.length} bytes: from ${
        KEY_SLOT_ID_OFFSET + KEY_SLOT_ID_BYTES
      } to ${MAX_KEY_SLOT_BYTES} bytes`,
    );
  }
  return slot.subarray(KEY_SLOT_ID_OFFSET, KEY_SLOT_ID_OFFSET + KEY_SLOT_ID_BYTES);
}

/** What a prune did for one user. */
export interface PruneReport {
  /** Bytes the user's usage dropped by (0 if it rose meanwhile). */
  bytesFreed: number;
  /** The user's packs removed, emptied or repacked away. */
  packsRemoved: number;
}
