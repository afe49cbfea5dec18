/**
 * The names this server stored a version of lately, with the newest record it knows of each: what
 * lets a replace skip the listing of the name (one PUT instead of a LIST and a PUT). An entry is
 * trusted for a TTL counted from the listing it started from, not from the last store: past it,
 * the next commit lists the name again and sees what other servers stored meanwhile. Used only on
 * the write path, under default retention (see `S3Storage`); reads always list. docs/storage.md
 * says what this gives up on a shared bucket.
 *
 * @module
 */
import type { FileRecord } from "./histories.ts";

/** The newest record of a name as this server knows it. */
export interface Entry {
  record: FileRecord;
  /** When the name was last listed (`performance.now()` time): the entry is trusted from there. */
  listedAt: number;
}

/** Options of `RecentNames`. */
export interface RecentNamesOptions {
  /** How long after a listing an entry is trusted; 0: never (nothing is kept). */
  ttlMs: number;
  /** Names kept at most; the least recently used go first. */
  maxNames: number;
  /** The clock of the TTL. @default performance.now */
  now?: () => number;
}

/**
 * An LRU of (user, name) → the newest record this server stored, trusted for `ttlMs` after the
 * listing that preceded it.
 *
 * @example
 * ```ts
 * import { RecentNames } from "./recent_names.ts";
 * import type { FileRecord } from "./histories.ts";
 * import assert from "node:assert/strict";
 * let now = 0;
 * const names = new RecentNames({ ttlMs: 30_000, maxNames: 2, now: () => now });
 * const record = (versionId: number) => ({
 *   key: `k${versionId}`, objectSize: 0,
 *   fields: { kind: "file", versionId, mtimeMs: 0, mode: null, sha256: new Uint8Array(32) },
 * }) as FileRecord;
 * names.stored(1, "a", record(5), names.listedNow());
 * assert.equal(names.newest(1, "a")?.record.fields.versionId, 5);
 * now = 30_000;
 * assert.equal(names.newest(1, "a"), undefined); // the listing is too old
 * ```
 */
export class RecentNames {
  readonly #entries = new Map<string, Entry>();
  readonly #ttlMs: number;
  readonly #maxNames: number;
  readonly #now: () => number;

  /** An empty cache. */
  constructor(options: RecentNamesOptions) {
    this.#ttlMs = options.ttlMs;
    this.#maxNames = options.maxNames;
    this.#now = options.now ?? (() => performance.now());
  }

  /** The time to pass to `stored` for a listing that starts now. */
  listedNow(): number {
    return this.#now();
  }

  /**
   * The newest record of `name` this server knows and when the name was listed, if that listing
   * is younger than the TTL.
   */
  newest(userId: number, name: string): Entry | undefined {
    const key = keyOf(userId, name);
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    this.#entries.delete(key);
    if (this.#now() - entry.listedAt >= this.#ttlMs) return undefined;
    this.#entries.set(key, entry); // most recently used: last in the map's order
    return entry;
  }

  /**
   * Notes a record this server just stored for `name`. `listedAt` is when the listing the commit
   * started from began (`listedNow()`), or, for a commit that used this cache, the entry's own:
   * storing teaches nothing of other servers.
   */
  stored(userId: number, name: string, record: FileRecord, listedAt: number): void {
    if (this.#ttlMs <= 0) return;
    const key = keyOf(userId, name);
    const known = this.#entries.get(key);
    this.#entries.delete(key);
    // Two commits of one name at once: the newer record and the later listing, whichever answered
    // last (each listing saw everything before it; this server's own records are all known).
    const newer = known && known.record.fields.versionId > record.fields.versionId;
    this.#entries.set(key, {
      record: newer ? known.record : record,
      listedAt: Math.max(known?.listedAt ?? listedAt, listedAt),
    });
    while (this.#entries.size > this.#maxNames) {
      this.#entries.delete(this.#entries.keys().next().value!);
    }
  }

  /** Forgets `name` (this server deleted it, or a commit failed and may or may not have landed). */
  forget(userId: number, name: string): void {
    this.#entries.delete(keyOf(userId, name));
  }
}

function keyOf(userId: number, name: string): string {
  return `${userId}/${name}`;
}
