/**
 * Opens the store the operator chose: the embedded engine on a root, or an S3 bucket, and logs
 * what opening found. The server never chooses: it serves whatever opened `Storage` it is given,
 * and whoever opened the store closes it (see `openServer`).
 *
 * @module
 */
import {
  type CommitStep,
  EmbeddedStorage,
  type GarbageStep,
  type OpenReport,
} from "../storage/embedded/engine.ts";
import type { AppendOnlyOf, Retention } from "../storage/retention.ts";
import { S3Storage } from "../storage/s3/engine.ts";
import type { RequestObserver, S3Location } from "../objects/s3/s3_client.ts";
import type { Storage } from "../storage/storage.ts";
import type { Logger } from "../server/log.ts";

/** Where an S3-backed store keeps its files. */
export interface S3Backend {
  /** The bucket and how to reach it. */
  location: S3Location;
  /** Keys start with this; "" for the whole bucket. */
  prefix?: string;
  /** Names this server's data objects (host and port): a restart aborts what it left. */
  serverTag: string;
  /** Files over 256 KiB as deduplicated chunks in packs (the server's default: see s3_flags.ts). */
  chunkFiles?: boolean;
}

/** What `openStore` opens, and the policy it applies. */
export interface StoreOptions {
  /** The backup root of the embedded engine; created if missing (unused with `s3`). */
  root: string;
  /** Keep files in an S3 bucket instead of under `root`. */
  s3?: S3Backend;
  /** A user's quota in bytes (0: none), asked at each upload. @default none */
  quotaOf?: (userId: number) => number;
  /** Whether a user is append-only now (re-read on reload): see `AppendOnlyOf`. */
  appendOnlyOf?: AppendOnlyOf;
  /** How long replaced and deleted versions are kept; default 30 days, any number of versions. */
  retention?: Partial<Retention>;
  /** Bytes of small files kept in memory for repeated retrieves; default 32 MiB; 0: none. */
  readCacheBytes?: number;
  /** Workers hashing chunks of version 1 and 2 uploads; default 0 (on the event loop). */
  hashWorkers?: number;
  /**
   * How long blobs an interrupted snapshot run sent (never named by a snapshot) are kept for the
   * next run (embedded engine); default 24 h.
   */
  blobGraceMs?: number;
  /** Milliseconds between background prunes of past versions; 0: only at start; default 10 min. */
  pruneIntervalMs?: number;
  /** The wall clock (milliseconds since the epoch) storage stamps versions with; default `Date.now`. */
  now?: () => number;
  /** Awaited at each step of an upload's commit (see `CommitStep`); for crash tests. */
  onCommitStep?: (step: CommitStep, userId: number, name: Uint8Array) => void | Promise<void>;
  /** Awaited at each step of garbage collection (see `GarbageStep`); for crash tests. */
  onGarbageStep?: (step: GarbageStep) => void | Promise<void>;
  /** Packs of chunks are cut at this size; default 16 MiB (tests make them small). */
  packTargetBytes?: number;
}

/** Where `openStore` reports. */
export interface StoreObservers {
  /** What opening found, and background work that failed. */
  logger: Logger;
  /** Told how long each call to the object store took (S3 only), for `/metrics`. */
  onRequest?: RequestObserver;
}

/**
 * Opens the store `options` name: an S3 bucket with `s3`, else the embedded engine on `root`
 * (sweeping what a crash left, importing the version 1 layout). The caller closes it.
 *
 * @throws file system errors if the root is unusable; `S3Error` if the bucket cannot be reached.
 * @example
 * ```ts ignore
 * import { openStore } from "./open_store.ts";
 * import { createLogger } from "../server/log.ts";
 * const storage = await openStore({ root: "./backup-root" }, { logger: createLogger() });
 * await storage.close();
 * ```
 */
export async function openStore(
  options: StoreOptions,
  observers: StoreObservers,
): Promise<Storage> {
  const { logger } = observers;
  const onBackgroundError = (error: unknown) => {
    logger.error("storage background work failed", { error: String(error) });
  };
  if (options.s3) {
    const opened = await S3Storage.open({
      ...options.s3,
      quotaOf: options.quotaOf,
      appendOnlyOf: options.appendOnlyOf,
      retention: options.retention,
      pruneIntervalMs: options.pruneIntervalMs,
      blobGraceMs: options.blobGraceMs,
      hashWorkers: options.hashWorkers,
      now: options.now,
      onBackgroundError,
      onRequest: observers.onRequest,
    });
    if (opened.report.staleUploadsAborted > 0) {
      logger.notice("aborted unfinished uploads", { uploads: opened.report.staleUploadsAborted });
    }
    return opened.storage;
  }
  const { s3: _, ...embedded } = options;
  const opened = await EmbeddedStorage.open({ ...embedded, onBackgroundError });
  logOpenReport(opened.report, logger);
  return opened.storage;
}

/** Logs what opening the root found: a crash's leftovers, an import of the version 1 layout. */
function logOpenReport(report: OpenReport, logger: Logger): void {
  if (report.orphansRemoved > 0) {
    logger.info("removed data files of uploads cut off", { count: report.orphansRemoved });
  }
  const imported = report.imported;
  if (!imported) return;
  logger.notice("imported the version 1 layout", {
    users: imported.users,
    files: imported.files,
    bytes: imported.bytes,
    skipped: imported.skippedCount,
  });
  for (const { path, reason } of imported.skipped) {
    logger.warn("left in place, not imported", { path, reason });
  }
}
