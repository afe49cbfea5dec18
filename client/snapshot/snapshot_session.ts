/**
 * What the snapshot commands need of a session: the blobs (`BlobSink`, `BlobSource`) and the
 * snapshot list. `SessionV3` (client/session_v3.ts) is one; tests use an in-memory one. Also the
 * list read whole and decoded, which every command that picks a snapshot starts with.
 *
 * @module
 */
import type { BlobId, BlobSink, BlobSource } from "./blobs.ts";
import {
  listedSnapshot,
  ListedSnapshotError,
  type SnapshotInfo,
  sortSnapshots,
} from "./snapshot_select.ts";

/** A snapshot as the session lists it (its id already checked against its record). */
export interface ListedEntry {
  /** SHA-256 of the record as sent (`sent`, else `record`), as hex. */
  id: string;
  /** When the server committed it, milliseconds since the epoch. */
  storedMs: number;
  /** The record's bytes (opened, in an encrypted repository). */
  record: Uint8Array;
  /** An encrypted repository's: the record as sent and stored (sealed). */
  sent?: Uint8Array;
}

/** What a commit did (see `SessionV3.commitSnapshot`). */
export interface CommitOutcome {
  /** The snapshot's id (SHA-256 of its record). */
  id: string;
  /** True once the snapshot is durable and listed. */
  committed: boolean;
  /** Blobs the server lacks, when not committed. */
  missing: BlobId[];
}

/** A session the snapshot commands run on: blobs and snapshots of one user. */
export interface SnapshotSessionLike extends BlobSink, BlobSource {
  /** Starts a snapshot's upload (the server keeps what this session relies on until the commit). */
  openSnapshot(): Promise<void>;
  /** Commits a record whose root tree is `tree`; lists what the server lacks instead, if any. */
  commitSnapshot(record: Uint8Array, tree: BlobId): Promise<CommitOutcome>;
  /** The user's snapshots, oldest first. */
  listSnapshots(): AsyncIterable<ListedEntry>;
  /** Forgets one snapshot by id. */
  forgetSnapshot(id: string): Promise<void>;
  /** Ends the session. */
  close(): Promise<void>;
}

/**
 * Every snapshot of the session's user, decoded, oldest first.
 *
 * @throws {ListedSnapshotError} for an entry whose record does not hash to its id or is not a
 *   record, or an id listed twice (`forget` would otherwise keep one copy and remove the other,
 *   which is the same snapshot); what the session throws.
 */
export async function readSnapshotList(
  session: Pick<SnapshotSessionLike, "listSnapshots">,
): Promise<SnapshotInfo[]> {
  const list: SnapshotInfo[] = [];
  const ids = new Set<string>();
  for await (const entry of session.listSnapshots()) {
    const snapshot = listedSnapshot(entry);
    if (ids.has(snapshot.id)) {
      throw new ListedSnapshotError(`snapshot ${snapshot.id.slice(0, 8)} is listed twice`);
    }
    ids.add(snapshot.id);
    list.push(snapshot);
  }
  return sortSnapshots(list);
}
