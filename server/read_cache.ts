/**
 * Small stored files kept in memory, so that a file retrieved again and again costs one `lstat`
 * instead of open, stat, read and close. Measured with Deno 2.9.6 and the server's scoped
 * permissions: `lstat` about 5 µs; open+close 15 µs and a stat of the open file 12 µs, because
 * Deno resolves the whole path again (a `readlink` per component) for each of them.
 *
 * Every hit is checked against a fresh `lstat` of the path, and any change to a file
 * (a write in place, a truncation, a replacement by rename, a deletion) changes its inode, size,
 * mtime or ctime (mtime can be set back; ctime cannot). One gap is the timestamps' granularity:
 * two changes close together may leave the same ctime. So a file is admitted only on a read at least
 * `SETTLE_MS` after an earlier read saw it with the same identity: any change after the admitting
 * read is then more than one ctime step later than the change that gave the cached ctime. What
 * `lstat` cannot show is in the README: a network file system answering from its attribute cache,
 * and stores through a shared memory map, which need not move ctime each time.
 *
 * @module
 */

/** What a cached file must still look like (by `lstat`) for its bytes to be served. */
interface Identity {
  dev: number;
  ino: number | null;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
}

/** Options of a `ReadCache`. */
export interface ReadCacheOptions {
  /** Bytes of file content kept at most. */
  capacityBytes: number;
  /** Largest file kept, in bytes. */
  maxFileBytes?: number;
  /** How long a file must have been seen unchanged to be admitted; default `SETTLE_MS`. */
  settleMs?: number;
  /** The clock (milliseconds, monotonic); injected by tests. */
  now?: () => number;
}

/** The cache's counters, for the stats line. */
export interface ReadCacheStats {
  /** Retrieves served from memory. */
  hits: number;
  /** Files held now. */
  files: number;
  /** Bytes held now. */
  bytes: number;
}

/** Files up to this size are cached: above it, the per-request costs are small next to the transfer. */
export const DEFAULT_MAX_FILE_BYTES = 64 * 1024;

/**
 * How long (ms) a file must have been seen unchanged before it is cached. Deno reports ctime in whole
 * seconds (the kernel has nanoseconds; seen with Deno 2.9.6), and FAT keeps timestamps to 2 s: two
 * changes less than that apart may leave the same ctime. 3 s is longer than both plus a clock tick.
 */
export const SETTLE_MS = 3000;

/**
 * An LRU cache of small files' bytes, keyed by path, each entry valid only while `lstat` shows the
 * file unchanged. Files are admitted on their second read (so a restore that reads each file once
 * does not churn the cache), and only once settled (see the module comment).
 */
export class ReadCache {
  readonly #capacityBytes: number;
  readonly #maxFileBytes: number;
  readonly #settleMs: number;
  readonly #now: () => number;
  /** Cached files, least recently used first. */
  readonly #entries = new Map<string, { identity: Identity; bytes: Uint8Array }>();
  /** Files read once: when first seen with this identity. Bounded, oldest dropped first. */
  readonly #sightings = new Map<string, { identity: Identity; seenAt: number }>();
  readonly #maxSightings: number;
  #bytes = 0;
  #hits = 0;

  /** @param options capacity, largest file, clock */
  constructor(options: ReadCacheOptions) {
    this.#capacityBytes = options.capacityBytes;
    this.#maxFileBytes = Math.min(
      options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES,
      options.capacityBytes,
    );
    this.#settleMs = options.settleMs ?? SETTLE_MS;
    this.#now = options.now ?? (() => performance.now());
    // Enough sightings to admit a working set that fills the cache with 4 KiB files.
    this.#maxSightings = Math.ceil(options.capacityBytes / 4096);
  }

  /** True if `path` has an entry (to be checked with `lookup`): saves the `lstat` otherwise. */
  holds(path: string): boolean {
    return this.#entries.has(path);
  }

  /**
   * The cached bytes of `path` if `info` (a fresh `lstat` of it, or undefined if it is gone) shows
   * the same file; a stale entry is dropped.
   */
  lookup(path: string, info: Deno.FileInfo | undefined): Uint8Array | undefined {
    const entry = this.#entries.get(path);
    if (!entry) return undefined;
    const identity = info && identityOf(info);
    this.#entries.delete(path);
    if (!identity || !sameIdentity(identity, entry.identity)) {
      this.#bytes -= entry.bytes.length;
      return undefined;
    }
    this.#entries.set(path, entry); // now the most recently used
    this.#hits++;
    return entry.bytes;
  }

  /**
   * Whether the next read of `path`, whose open handle `info` describes, should be kept: true on a
   * read at least the settling time after an earlier one saw the same file. Records this read otherwise.
   */
  wants(path: string, info: Deno.FileInfo): boolean {
    const identity = identityOf(info);
    if (!identity || identity.size > this.#maxFileBytes) return false;
    const now = this.#now();
    const seen = this.#sightings.get(path);
    if (seen && sameIdentity(seen.identity, identity)) {
      return now - seen.seenAt >= this.#settleMs;
    }
    this.#sightings.delete(path);
    this.#sightings.set(path, { identity, seenAt: now });
    if (this.#sightings.size > this.#maxSightings) {
      this.#sightings.delete(this.#sightings.keys().next().value!);
    }
    return false;
  }

  /**
   * Keeps `bytes` as the content of `path`, read after `info` (the open handle's stat) was taken;
   * evicts the least recently used files to make room.
   */
  put(path: string, info: Deno.FileInfo, bytes: Uint8Array): void {
    const identity = identityOf(info);
    if (!identity || bytes.length !== identity.size || bytes.length > this.#maxFileBytes) return;
    this.forget(path);
    for (const [oldPath, old] of this.#entries) {
      if (this.#bytes + bytes.length <= this.#capacityBytes) break;
      this.#entries.delete(oldPath);
      this.#bytes -= old.bytes.length;
    }
    this.#entries.set(path, { identity, bytes });
    this.#bytes += bytes.length;
  }

  /** Drops what is known of `path` (the server replaced or deleted it). */
  forget(path: string): void {
    this.#sightings.delete(path);
    const entry = this.#entries.get(path);
    if (!entry) return;
    this.#entries.delete(path);
    this.#bytes -= entry.bytes.length;
  }

  /** Hits so far, and what is held now. */
  stats(): ReadCacheStats {
    return { hits: this.#hits, files: this.#entries.size, bytes: this.#bytes };
  }
}

function identityOf(info: Deno.FileInfo): Identity | undefined {
  if (!info.isFile || !info.mtime || !info.ctime) return undefined;
  return {
    dev: info.dev,
    ino: info.ino,
    size: info.size,
    mtimeMs: info.mtime.getTime(),
    ctimeMs: info.ctime.getTime(),
  };
}

function sameIdentity(a: Identity, b: Identity): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs &&
    a.ctimeMs === b.ctimeMs;
}
