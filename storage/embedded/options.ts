/**
 * The embedded engine's options, defaults and the reports it gives.
 *
 * @module
 */
import type { Retention } from "../retention.ts";
import type { V1ImportReport } from "./import_v1.ts";
import type { SnapshotCommitStep } from "./snapshot_session.ts";

/** The index's file name under the root. */
export const INDEX_FILE_NAME = "index.sqlite";
/** The folder under the root that holds the repository's objects (packs). */
export const REPOSITORY_DIR_NAME = "repo";
/** Files up to this size keep their bytes inside the index; larger ones get a data file. */
export const DEFAULT_INLINE_MAX_BYTES = 64 * 1024;
/** Memory for small files retrieved again and again, unless the operator says otherwise. */
export const DEFAULT_READ_CACHE_BYTES = 32 * 1024 * 1024;
/**
 * Bytes of scratch files all version 1 lists of a server may hold at once (names spooled at the
 * server's pace for clients that read at theirs); past it, a list's pages wait in memory.
 */
export const DEFAULT_LIST_SCRATCH_BYTES = 256 * 1024 * 1024;
/** Past versions are kept this many days unless the operator says otherwise. */
export const DEFAULT_KEEP_DAYS = 30;
/** How often past versions are pruned in the background. */
export const DEFAULT_PRUNE_INTERVAL_MS = 10 * 60 * 1000;

/** Options of `EmbeddedStorage.open`. */
export interface EmbeddedStorageOptions {
  /** The backup root; created if missing. */
  root: string;
  /** How long past versions are kept. @default {keepDays: 30} */
  retention?: Partial<Retention>;
  /** Bytes each user may store, past versions included; 0: no quota. @default 0 */
  quotaBytes?: number;
  /** A user's own quota in bytes (0: none), asked at each upload; overrides `quotaBytes`. */
  quotaOf?: (userId: number) => number;
  /**
   * Whether a user is append-only now (asked at each upload, delete and prune): deletes are
   * refused, and past versions are kept for the days of retention, never limited in number.
   * @default nobody
   */
  appendOnlyOf?: (userId: number) => boolean;
  /** Packs of chunks are cut at this size. @default 16777216 */
  packTargetBytes?: number;
  /** Workers that hash chunks (a V8 isolate each); 0: hash on the event loop. @default 0 */
  hashWorkers?: number;
  /** Largest file whose bytes live in the index. @default 65536 */
  inlineMaxBytes?: number;
  /** Memory for small files retrieved again and again; 0 keeps none. @default 33554432 */
  readCacheBytes?: number;
  /**
   * Bytes of scratch files all lists may hold at once; a list past it holds its read snapshot
   * while its client reads, its pages in memory, a few at most. @default 268435456
   */
  listScratchBytes?: number;
  /** Milliseconds between background prunes; 0: only at start. @default 600000 */
  pruneIntervalMs?: number;
  /** The wall clock in milliseconds; injected by tests. @default Date.now */
  now?: () => number;
  /** Told of a failure of background work (pruning), which no request waits for. */
  onBackgroundError?: (error: unknown) => void;
  /** Awaited at each step of garbage collection; crash tests stop the process there. */
  onGarbageStep?: (step: GarbageStep) => void | Promise<void>;
  /** Awaited at each step of an upload's commit; crash tests stop the process there. */
  onCommitStep?: (step: CommitStep, userId: number, name: Uint8Array) => void | Promise<void>;
  /** Blobs of snapshot sessions that never committed are kept this long. @default 86400000 */
  blobGraceMs?: number;
  /** Awaited at each step of a snapshot's commit; crash tests stop the process there. */
  onSnapshotCommitStep?: (step: SnapshotCommitStep) => void | Promise<void>;
}

/**
 * The steps of an upload's commit, in order: its bytes are durable in their data file (large
 * files only), its version is in the index but not yet durable, its version is durable (the 212
 * may go out).
 */
export type CommitStep = "data-durable" | "indexed" | "durable";

/**
 * The steps of garbage collection where a crash leaves something to clean up: a repack's new
 * packs are durable but not indexed; its chunks point at the new packs, durably, and the old pack
 * is not yet removed; packs without chunks are unindexed, durably, and not yet removed.
 */
export type GarbageStep = "repack-written" | "repack-indexed" | "empty-unindexed";

export type { SnapshotCommitStep };

/** What opening a root found and did. */
export interface OpenReport {
  /** Data files and packs no version pointed to (a crash's leftovers), removed. */
  orphansRemoved: number;
  /** The import of a root in the version 1 layout, if there was anything to import. */
  imported?: V1ImportReport;
}
