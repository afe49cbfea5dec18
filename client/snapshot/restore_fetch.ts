/**
 * The gets of one batch of the restorer (`restore_files.ts`): each distinct chunk once, in the
 * order of its first use, a window of them in flight: at most `gets` of them, and at most `bytes`
 * by their expected sizes (a chunk whose size is not known counts as the largest a chunk may be).
 * Small chunks of known size thus go many at a time (a server answers a burst of requests in one
 * go, and the client waits less for each), large or unknown ones fewer. A chunk that arrives
 * larger than its expected size fails its get at once instead of being held: a hostile server
 * answering every small get with a chunk of the largest size makes the client hold no more than
 * the window's bytes (and one answer being checked).
 *
 * @module
 */
import type { BlobId, BlobSource } from "./blobs.ts";

/**
 * A chunk larger than the one file it was expected for (a forged or damaged snapshot): that file
 * fails; another file that uses the chunk fetches it again for itself.
 */
export class OversizeChunkError extends Error {
  /** @param size the size of the file that expected the chunk */
  constructor(size: number) {
    super(`its chunks hold more than its declared size of ${size} bytes`);
    this.name = "OversizeChunkError";
  }
}

/** How far `OrderedFetch` gets ahead of the chunk taken. */
export interface FetchWindow {
  /** Gets in flight or held, at most. */
  gets: number;
  /** Their expected bytes, at most (one get is always let through, whatever its size). */
  bytes: number;
}

/** Gets of `ids` in order, within `window` ahead of the one taken. */
export class OrderedFetch {
  readonly #pending: Array<{ id: BlobId; size: number; bytes: Promise<Uint8Array> }> = [];
  #pendingBytes = 0;
  #started = 0;
  fetched = 0;
  bytes = 0;

  /**
   * @param ids the chunks, in the order they will be taken
   * @param sizes each chunk's expected size (same order), for `window.bytes`
   */
  constructor(
    readonly source: BlobSource,
    readonly ids: BlobId[],
    readonly sizes: number[],
    readonly window: FetchWindow,
  ) {
    this.#fill();
  }

  /** The next chunk's bytes, which must be `id`'s. @throws what the source throws */
  async next(id: BlobId): Promise<Uint8Array> {
    const head = this.#pending[0];
    if (head?.id !== id) throw new Error(`restorer: expected chunk ${head?.id}, not ${id}`);
    try {
      return await head.bytes;
    } finally {
      // Taken, even if it failed (the files after it take theirs). Only now is there room for one
      // more. Refilled once half the window is free by both counts, not one by one: the gets then
      // leave together in one write (one syscall for many small requests, and the server reads
      // them in one go).
      this.#pending.shift();
      this.#pendingBytes -= head.size;
      if (
        this.#pending.length <= this.window.gets >> 1 &&
        this.#pendingBytes <= this.window.bytes / 2
      ) this.#fill();
    }
  }

  /** Waits for the gets in flight (after a failure, so that none outlives the restore). */
  async settle(): Promise<void> {
    await Promise.allSettled(this.#pending.map((p) => p.bytes));
    this.#pending.length = 0;
    this.#pendingBytes = 0;
  }

  #fill(): void {
    const { gets, bytes: most } = this.window;
    while (this.#pending.length < gets && this.#started < this.ids.length) {
      const size = this.sizes[this.#started];
      if (this.#pending.length > 0 && this.#pendingBytes + size > most) break;
      const id = this.ids[this.#started++];
      const bytes = this.source.get(id, "data").then((raw) => {
        // Held until taken: a chunk larger than expected (a forged snapshot's file of one chunk)
        // is let go at once, so that what is held stays within the window's bytes.
        if (raw.length > size) throw new OversizeChunkError(size);
        this.fetched++;
        this.bytes += raw.length;
        return raw;
      });
      // Handled when taken; until then a rejection must not count as unhandled.
      bytes.catch(() => {});
      this.#pending.push({ id, size, bytes });
      this.#pendingBytes += size;
    }
  }
}
