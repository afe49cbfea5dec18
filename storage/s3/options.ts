/**
 * The S3 backend's options and what opening reports.
 *
 * @module
 */
import type { Retention } from "../retention.ts";
import type { RequestObserver, S3Location } from "../../objects/s3/s3_transport.ts";
import type { GcClock } from "./gc_clock.ts";

/** Options of `S3Storage.open`. */
export interface S3StorageOptions {
  /** The bucket and how to reach it. */
  location: S3Location;
  /** Keys start with this (`site1/`); "" for the whole bucket. @default "" */
  prefix?: string;
  /** Names this server's data objects, so that a restart can abort what it left. */
  serverTag: string;
  /** How long past versions are kept. @default {keepDays: 30} */
  retention?: Partial<Retention>;
  /** A user's quota in bytes (0: none), asked at each upload. @default none */
  quotaOf?: (userId: number) => number;
  /**
   * Whether a user is append-only now (asked at each upload, delete and prune): deletes are
   * refused, and past versions are kept for the days of retention, never limited in number.
   * @default nobody
   */
  appendOnlyOf?: (userId: number) => boolean;
  /** Parts of large uploads, and the largest file sent in one PUT. @default 8 MiB */
  partSize?: number;
  /** Parts of one upload in flight at once. @default 3 */
  partsInFlight?: number;
  /** Upload buffers of all uploads together. @default 128 MiB */
  memoryBytes?: number;
  /** Multipart uploads older than this are any server's leftovers. @default one day */
  staleUploadMs?: number;
  /** Milliseconds between background prunes; 0: only at start. @default 600000 */
  pruneIntervalMs?: number;
  /**
   * A user's Prune runs garbage collection only if this server's last one for a Prune ended this
   * long ago, or a snapshot was forgotten or a blob dropped through it since. @default 60 s
   */
  pruneGapMs?: number;
  /** How long a user's usage, as listed, is trusted before it is listed again. @default 30 s */
  usageTtlMs?: number;
  /**
   * How long after listing a name this server trusts the newest record it knows of it when it
   * stores a new version (under default retention: a replace is then one PUT, no LIST); 0: always
   * list. Reads always list. See docs/storage.md. @default 30 s
   */
  recentNamesTtlMs?: number;
  /** Names that trust holds at most (least recently used go first). @default 10000 */
  recentNamesMax?: number;
  /**
   * Files larger than the chunker's minimum (256 KiB) are stored as chunks in packs
   * `p/USER/SESSION.N`, deduplicated per user, under a `c` record listing where each chunk is;
   * `prune` collects and repacks the packs (`chunk_gc.ts`). Records of either kind stay readable
   * whatever this says. The server turns it on (`--no-s3-chunk-files` off). @default false
   */
  chunkFiles?: boolean;
  /** With `chunkFiles`: a pack is put once its chunks reach this many bytes. @default 8 MiB */
  packTargetBytes?: number;
  /** With `chunkFiles`: pack PUTs one upload runs at once. @default 3 */
  packPutsInFlight?: number;
  /** With `chunkFiles`: bytes of every user's known chunks held at most. @default 64 MiB */
  dedupCacheBytes?: number;
  /**
   * With `chunkFiles`: a user's index objects (other servers' chunks) are listed again at an
   * upload once the last listing is this old. @default 30 s
   */
  dedupRefreshMs?: number;
  /** With `chunkFiles`: how long an upload waits for a user's chunks to load. @default 1 s */
  dedupWaitMs?: number;
  /** With `chunkFiles`: workers hashing chunks (a V8 isolate each; 0: inline). @default 0 */
  hashWorkers?: number;
  /**
   * With `chunkFiles`, the store keeps snapshots (`snapshots`, protocol version 3): how long GC
   * keeps a snapshot session's packs whatever references them, for an interrupted run's next one
   * (never less than G). @default 24 h (`DEFAULT_BLOB_GRACE_MS`)
   */
  blobGraceMs?: number;
  /**
   * Garbage collection of packs and its clocks (docs/s3_repository_plan.md §3.1): every duration
   * has the production default; tests shrink them to seconds.
   */
  gc?: S3GcOptions;
  /** The version clock. @default Date.now */
  now?: () => number;
  /** Told of a failure of background work (pruning, retention), which no request waits for. */
  onBackgroundError?: (error: unknown) => void;
  /** Hears every request to the store, for the latency histogram. */
  onRequest?: RequestObserver;
}

/**
 * The durations of garbage collection of packs, in ms (docs/s3_repository_plan.md §3.1: R, G,
 * P_stale and the lock's). They must keep G ≥ 3R/4 + 2F + 2 min, F being the store's allowed
 * request skew (15 min) plus 1 min, and P_stale ≥ R/2 + F + margin; only tests break that.
 */
export interface S3GcOptions {
  /** G: a tombstone's grace, and the least age of a pack before it is doomed. @default 1 h */
  graceMs?: number;
  /** P_stale: a pin not refreshed for this long belongs to a dead upload. @default 30 min */
  pinStaleMs?: number;
  /** R/2: an upload runs this long unpinned, and refreshes its pin this often. @default 5 min */
  pinIntervalMs?: number;
  /** R/4: the oldest tombstone view a dedup decision may use. @default 150 s */
  viewMaxAgeMs?: number;
  /** Between background refreshes of the tombstone view. @default 120 s */
  viewRefreshMs?: number;
  /** G/2: a view this old drops every dedup cache. @default 30 min */
  viewDropAfterMs?: number;
  /** The prune lock: between its PUT and its LIST. @default 1 s */
  lockSettleMs?: number;
  /** The prune lock: between two refreshes. @default 1 min */
  lockRefreshMs?: number;
  /** The prune lock: a holder whose last refresh is older has lost it. @default 2 min */
  lockRefreshableMs?: number;
  /** The prune lock: an object this old (by the store's clock) is dead. @default 3 min */
  lockStaleMs?: number;
  /**
   * Repack a pack at least G old whose live bytes are under this share of its size: its live
   * chunks are copied into new packs, the records naming it rewritten (a snapshot pack, at least
   * the blob grace old too: its copies indexed), then it is doomed (0: never). @default 0.5
   */
  repackBelow?: number;
  /** Packs repacked per GC run at most. @default 64 */
  maxRepacks?: number;
  /**
   * A user's snapshot index objects (`x/USER/snap.*`) are merged into few once past this many;
   * the merged ones go a run at least G later (`snapshot_index_merge.ts`). @default 64
   */
  mergeSnapshotIndexesAbove?: number;
  /** The clocks of pins, the view and the lock. @default systemClock */
  clock?: GcClock;
  /** Told what each GC run did (tests wait for a run that held the lock). */
  onReport?: (report: ChunkGcReport) => void;
  /** Awaited after each step of a GC run, with what it did so far (tests stop a pruner there). */
  onStep?: (step: ChunkGcStep, report: Readonly<ChunkGcReport>) => void | Promise<void>;
}

/** The steps of a GC run after which `S3GcOptions.onStep` is awaited. */
export type ChunkGcStep =
  | "marked"
  | "swept"
  | "repacked" // live chunks copied into new packs, no record rewritten (no snapshot index) yet
  | "rewritten" // the records rewritten (a snapshot repack's index PUT), the old packs not doomed yet
  | "doomed"
  | "indexed";

/** What one GC run did (`storage/s3/chunk_gc.ts`). */
export interface ChunkGcReport {
  /** Whether this server held the prune lock (if not, it did nothing else). */
  held: boolean;
  /** `c` records read by the mark. */
  lists: number;
  /** Packs deleted (step 4). */
  deletedPacks: number;
  /** Packs put into this run's tombstone (step 5), the repacked ones included. */
  doomedPacks: number;
  /** Packs whose live chunks were copied and whose records were rewritten (then doomed). */
  repackedPacks: number;
  /** Chunks copied into new packs by repack. */
  copiedChunks: number;
  /** `c` records rewritten by repack to name the new packs. */
  rewrittenRecords: number;
  /** Index objects written (`x/USER/gc.RUN.N`, step 6). */
  indexWritten: number;
  /** Older index objects deleted (step 6). */
  indexDeleted: number;
  /** Swept tombstones deleted (step 7). */
  tombstonesDeleted: number;
  /** Stale pins deleted. */
  pinsDeleted: number;
  /** Snapshot sessions' index and references objects whose packs are all gone, deleted (step 7). */
  snapshotObjectsDeleted?: number;
  /**
   * Snapshot packs whose live blobs were copied into new packs and indexed (then doomed); their
   * blobs count in `copiedChunks`.
   */
  snapshotPacksRepacked?: number;
  /** Snapshot index objects merged into new ones (`snapshot_index_merge.ts`). */
  snapshotIndexesMerged?: number;
  /** Snapshot index objects written by merges. */
  snapshotIndexesWritten?: number;
  /** Snapshot index objects deleted once a merge of them was G old. */
  snapshotIndexesDeleted?: number;
}

/** What opening found and did. */
export interface S3OpenReport {
  /** Multipart uploads a previous run of this server left, or any server's older than a day. */
  staleUploadsAborted: number;
}

/** Parts of large uploads, and the largest file sent in one PUT, unless told otherwise. */
export const DEFAULT_PART_SIZE = 8 * 1024 * 1024;
/** Parts of one upload in flight at once, unless told otherwise. */
export const DEFAULT_PARTS_IN_FLIGHT = 3;
/**
 * Where a chunked upload cuts its packs on S3, unless told otherwise: half the embedded engine's,
 * since each pack in flight is a buffer of its target plus the largest chunk (8 MiB) until its PUT
 * is answered, and an upload has three in flight and one filling.
 */
export const DEFAULT_S3_PACK_TARGET_BYTES = 8 * 1024 * 1024;
/** Pack PUTs one chunked upload runs at once, unless told otherwise. */
export const DEFAULT_PACK_PUTS_IN_FLIGHT = 3;
