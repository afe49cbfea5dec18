/**
 * What an embedded snapshot session (`snapshot_session.ts`) is given by the snapshot store
 * (`snapshot_store.ts`): the index and catalog, the pack store, the durable-change hook, quotas,
 * and the steps where crash tests stop a commit.
 *
 * @module
 */
import type { ObjectStore } from "../../objects/object_store.ts";
import type { ChangeSize } from "./index_writes.ts";
import type { SnapshotCatalog } from "./snapshot_catalog.ts";
import type { VersionIndex } from "./version_index.ts";

/**
 * The steps of a snapshot's commit where a crash test may stop the process, and the start of the
 * indexing of a pack written while the session runs (`pack-indexing`, behind the puts).
 */
export type SnapshotCommitStep = "packs-durable" | "durable" | "pack-indexing";

/** What a session works with, given by the snapshot store. */
export interface SessionContext {
  index: VersionIndex;
  catalog: SnapshotCatalog;
  store: ObjectStore;
  packTargetBytes: number;
  /**
   * The names of the packs the session wrote, which it adds to as it writes them: garbage
   * collection neither removes nor repacks them while the session is open (`SessionPin.packs`).
   */
  packs: Set<string>;
  /** Makes one synchronous change of the index durable (`IndexWrites.durably`). */
  durably<T>(change: () => T, size: ChangeSize): Promise<T>;
  now(): number;
  /** Bytes the user may store; 0: no quota. */
  quotaOf(userId: number): number;
  /**
   * Whether the user's repository is encrypted (has a key slot): asked once, at the session's
   * first put (`RepositoryMode`). Absent: plain.
   */
  encrypted?(): boolean;
  /** Awaited at each step of a commit; crash tests stop the process there. */
  onStep?(step: SnapshotCommitStep): void | Promise<void>;
  /**
   * Settles once the user's sessions that were closing when this one opened are closed: this
   * one's calls wait for it, so that a run made again right after one was cut off is told the
   * blobs that one sent are there (they are indexed by its close), and sends none again.
   */
  after?: Promise<void>;
  /** Told when the session begins to close, with a promise that settles once it is closed. */
  closing?(closed: Promise<void>): void;
}
