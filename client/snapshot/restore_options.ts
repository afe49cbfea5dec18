/**
 * What a restore is asked to do, what it reports while it runs, and what it did.
 *
 * @module
 */
import type { RestoreError } from "./restore_errors.ts";
import type { OwnerResolver } from "./restore_owners.ts";

/** Failures a report keeps (`RestoreReport.errors`); past that only counted (`onError` sees all). */
export const MAX_REPORTED_FAILURES = 1000;

/** Limits and concurrency of a restore, with their defaults. */
export const DEFAULT_RESTORE_LIMITS = {
  /**
   * Chunk gets in flight or held, at most: many small chunks in flight keep the server busy and
   * the client from waiting on each (`restore_fetch.ts`).
   */
  concurrency: 64,
  /**
   * Bytes of those chunks, at most, by expected size: a chunk counts as its file's size if it is
   * the file's only one, else as the largest a data blob may be (`MAX_DATA_BLOB_BYTES`, 8 MiB):
   * 16 such. A chunk larger than its expected size is let go as it arrives (`restore_fetch.ts`),
   * so a snapshot that lies about sizes makes no more than this held.
   */
  fetchAheadBytes: 128 * 1024 * 1024,
  /** Trees read ahead of the walk. */
  treeConcurrency: 16,
  /** Chunk references in one batch of files: bounds the batch's chunk-to-place map. */
  maxBatchRefs: 65_536,
  /** Files open at once in one batch. */
  maxBatchFiles: 256,
  /**
   * Threads that write small files (`restore_file_pool.ts`), started at the first one; 0: every
   * file is written on the calling thread.
   */
  fileWorkers: 1,
  /**
   * Bytes of small files handed to those threads and not yet written, at most: past it the calling
   * thread writes the next small file itself (two threads making files, on another core), so it is
   * enough to keep a worker busy, not a buffer.
   */
  fileWorkerBytes: 1024 * 1024,
  /** Encoded trees kept between the counting and the writing pass. */
  treeCacheBytes: 64 * 1024 * 1024,
  /** Folders nested at most this deep below the restored root. */
  maxDepth: 1024,
  /** Trees held at once along one path (a folder and its ancestors), decoded (3× encoded). */
  maxPathTreeBytes: 256 * 1024 * 1024,
  /** Hard-linked inodes tracked at once. */
  maxHardLinkInodes: 1_000_000,
  /**
   * Entries one walk visits at most: a hostile snapshot whose folders name one subtree many times
   * would otherwise stand for 2^depth entries in a few trees.
   */
  maxEntries: 100_000_000,
};

/** What to restore, where, and how. */
export interface RestoreOptions extends Partial<typeof DEFAULT_RESTORE_LIMITS> {
  /** The folder to restore into (made if missing). */
  target: string;
  /**
   * A path in the snapshot (`SNAPSHOT:PATH`): a folder's contents are restored into the target,
   * a file or link into the target under its name. Default: the whole snapshot.
   */
  subPath?: string;
  /** Globs (see `restore_filter.ts`) matched against paths in the snapshot. */
  include?: string[];
  exclude?: string[];
  /**
   * `always` (restic's default): an existing file or link is replaced, an existing folder is
   * merged into (and given the snapshot's metadata), a file or link where a folder goes is
   * replaced by the folder; a folder where a file goes is an error. `never`: nothing that exists
   * is touched (counted as skipped).
   */
  overwrite?: "always" | "never";
  /**
   * Called for each path that could not be restored (a blob missing or damaged, a size that does
   * not add up, a file-system error): the restore goes on, and the report counts it.
   */
  onError?: (error: RestoreError) => void;
  /** Called as the restore goes (often: the caller throttles what it draws). */
  onProgress?: (progress: RestoreProgress) => void;
  /**
   * Stops the restore (Ctrl-C): it rejects with the signal's reason once the step in hand ends,
   * removing its temporary files; what is in place stays.
   */
  signal?: AbortSignal;
  /** Restore owners and setuid/setgid bits; default: when the process creates files as root. */
  asRoot?: boolean;
  /** Names to ids (as root); default: this system's `/etc/passwd` and `/etc/group`. */
  owners?: OwnerResolver;
  /**
   * The source's `get` resolves to bytes no one else holds (a session's: fresh from the wire),
   * which the restorer may move to its file workers instead of copying them. Default false: a
   * source that keeps its blobs (a map in memory) would find them emptied.
   */
  transferChunks?: boolean;
}

/** Where a restore is. */
export interface RestoreProgress {
  /** `scanning`: totals are being counted; `restoring`; `done`. */
  phase: "scanning" | "restoring" | "done";
  /** Files and links in place (or skipped), of `filesTotal`. */
  filesDone: number;
  filesTotal: number;
  /** Bytes of files written (or skipped, or linked), of `bytesTotal`. */
  bytesDone: number;
  bytesTotal: number;
  /** The path beneath the target being written. */
  currentFile?: string;
}

/** What a restore did. */
export interface RestoreReport {
  /** Files written (hard links not counted). */
  files: number;
  /** Folders given their metadata. */
  dirs: number;
  symlinks: number;
  /** Further names of a file written once. */
  hardLinks: number;
  /** Bytes of files written. */
  bytes: number;
  /** Entries left as they were (`overwrite: "never"`). */
  skipped: number;
  warnings: string[];
  /** Paths that could not be restored (nothing half-written is left of them). */
  failed: number;
  /** The first `MAX_REPORTED_FAILURES` of them, in the order met. */
  errors: RestoreError[];
  /** Chunks fetched, and chunks written from an earlier place in their batch instead. */
  chunksFetched: number;
  chunksCopied: number;
  bytesFetched: number;
  treesFetched: number;
  batches: number;
}

/** `options`' limits with the defaults filled in. */
export function restoreLimits(options: RestoreOptions): typeof DEFAULT_RESTORE_LIMITS {
  const limits = { ...DEFAULT_RESTORE_LIMITS };
  for (const key of Object.keys(limits) as Array<keyof typeof limits>) {
    const value = options[key];
    if (value !== undefined) {
      const least = key === "fileWorkers" ? 0 : 1;
      if (!Number.isSafeInteger(value) || value < least) {
        throw new RangeError(`${key} must be an integer of at least ${least}, not ${value}`);
      }
      limits[key] = value;
    }
  }
  return limits;
}
