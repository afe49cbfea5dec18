/**
 * The S3 backend's options and what opening reports.
 *
 * @module
 */
import type { Retention } from "../retention.ts";
import type { RequestObserver, S3Location } from "../../objects/s3/s3_client.ts";

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
  /** The version clock. @default Date.now */
  now?: () => number;
  /** Told of a failure of background work (pruning, retention), which no request waits for. */
  onBackgroundError?: (error: unknown) => void;
  /** Hears every request to the store, for the latency histogram. */
  onRequest?: RequestObserver;
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
