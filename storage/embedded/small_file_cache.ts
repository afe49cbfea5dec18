/**
 * Small files retrieved again and again, kept in memory: a hit skips the index read. Every change
 * of a name goes through the engine, which drops its entry in the same synchronous step as the
 * change, so an entry is never stale and needs no check against anything.
 *
 * @module
 */
import type { FileMetadata } from "../storage.ts";

/** The cache's counters, for the stats line. */
export interface ReadCacheStats {
  /** Retrieves served from memory. */
  hits: number;
  /** Files held now. */
  files: number;
  /** Bytes held now. */
  bytes: number;
}

interface Entry {
  metadata: FileMetadata;
  bytes: Uint8Array;
}

/**
 * An LRU cache of small files' bytes and metadata by user id and name, bounded in bytes. A file
 * enters on its second read (so that a restore reading each file once does not churn it).
 */
export class SmallFileCache {
  readonly #capacityBytes: number;
  /** Least recently used first. */
  readonly #entries = new Map<string, Entry>();
  /** Keys read once, oldest first; bounded. */
  readonly #seen = new Set<string>();
  readonly #maxSeen: number;
  #bytes = 0;
  #hits = 0;

  /** @param capacityBytes bytes of file content kept at most; 0 keeps nothing */
  constructor(capacityBytes: number) {
    this.#capacityBytes = capacityBytes;
    this.#maxSeen = Math.max(1024, Math.ceil(capacityBytes / 1024));
  }

  /** The cached file, if held (counted as a hit). */
  get(userId: number, name: string): Entry | undefined {
    const key = keyOf(userId, name);
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    this.#entries.delete(key); // to the most recently used end
    this.#entries.set(key, entry);
    this.#hits++;
    return entry;
  }

  /** Offers a file just read from the index; kept if seen before and it fits. */
  offer(userId: number, name: string, entry: Entry): void {
    if (entry.bytes.length > this.#capacityBytes) return;
    const key = keyOf(userId, name);
    if (!this.#seen.delete(key)) {
      this.#seen.add(key);
      if (this.#seen.size > this.#maxSeen) this.#seen.delete(this.#seen.values().next().value!);
      return;
    }
    this.forget(userId, name);
    this.#entries.set(key, entry);
    this.#bytes += entry.bytes.length;
    for (const [oldest, old] of this.#entries) {
      if (this.#bytes <= this.#capacityBytes) break;
      this.#entries.delete(oldest);
      this.#bytes -= old.bytes.length;
    }
  }

  /** Drops what is held for a name: call in the same step as any change of it. */
  forget(userId: number, name: string): void {
    const key = keyOf(userId, name);
    this.#seen.delete(key);
    const entry = this.#entries.get(key);
    if (!entry) return;
    this.#entries.delete(key);
    this.#bytes -= entry.bytes.length;
  }

  /** Counters since start. */
  stats(): ReadCacheStats {
    return { hits: this.#hits, files: this.#entries.size, bytes: this.#bytes };
  }
}

function keyOf(userId: number, name: string): string {
  return `${userId}/${name}`; // a user id has no "/": the key is unambiguous
}
