/**
 * What an S3 snapshot session (`snapshot_session.ts`) is given by the snapshot store
 * (`snapshot_store.ts`): the user's bucket, pack store, blob cache, tombstone view and pin, and the
 * store's quota and usage hooks.
 *
 * @module
 */
import type { ObjectStore } from "../../objects/object_store.ts";
import type { DedupCache } from "./dedup_cache.ts";
import type { DoomView } from "./doom_view.ts";
import type { UploadPin } from "./pins.ts";

/** What a session works with, given by the snapshot store. */
export interface S3SessionContext {
  userId: number;
  /** 16 hex digits: its packs are `p/USER/SESSION.N`, its pin `g/pins/SESSION`. */
  session: string;
  /** The bucket below the store's prefix. */
  store: ObjectStore;
  /** Where packs are written. */
  packStore: ObjectStore;
  /** The user's snapshot blobs this server knows (`x/USER/snap.*`). */
  blobs: DedupCache;
  view: DoomView;
  pin: UploadPin;
  packTargetBytes: number;
  /** PUTs an object (a name below the prefix) signed at `signedAt` (ms since the epoch). */
  put(name: string, body: Uint8Array, signedAt: number): Promise<void>;
  /** @throws {QuotaExceededError} if the user's usage and `adding` bytes would pass the quota. */
  checkQuota(adding: number): Promise<void>;
  /**
   * Whether the user's repository is encrypted (has a key slot: one LIST), asked once, at the
   * session's first put (`RepositoryMode`). Absent: plain.
   */
  encrypted?(): Promise<boolean>;
  /** Counts bytes just stored in the user's usage estimate. */
  stored(bytes: number): void;
  /**
   * The user's packs, listed under the tombstone view installed now (`PackLists`): none present
   * from a list begun under an older view.
   */
  packs: { refresh(): Promise<void>; has(pack: string): boolean; add(pack: string): void };
  now(): number;
  /** Settles once the user's sessions closing when this one opened are closed. */
  after?: Promise<void>;
  /** Told when the session begins to close, with a promise that settles once it is closed. */
  closing?(closed: Promise<void>): void;
  /** Called once the session is closed (its pin ended). */
  released(): void;
}
