/**
 * The memory chunks are read into: large slabs, reused. A reader reads a file into its slab and
 * each chunk it cuts is a view of that slab (no copy); the slab goes back to the pool once the
 * reader has moved on and every chunk cut from it was released (stored by the server, or known
 * present). A fresh allocation per chunk cost more than the copy itself: the kernel zero-fills
 * every new page on first touch (a 512 MiB backup spent 0.35 s of its client's 1.5 s CPU on
 * `slice`); a reused slab's pages are touched once per run.
 *
 * @module
 */

/**
 * Bytes of a slab: a few reads. A chunk growing past what is left of a slab is carried (copied)
 * into the next; one longer than a slab (up to 8 MiB, rare but for low-entropy bytes) gets a
 * larger buffer, used once.
 */
export const SLAB_BYTES = 4 * 1024 * 1024;
/** Slabs kept free for reuse at most (slabs come back one at a time, as their chunks are stored). */
export const MAX_FREE_SLABS = 4;

/**
 * Slabs of `SLAB_BYTES`, kept for reuse; one pool per run, shared by its readers.
 *
 * @example
 * ```ts
 * import { SlabPool } from "./chunk_slabs.ts";
 * import assert from "node:assert/strict";
 * const pool = new SlabPool(1024);
 * const slab = pool.take(100);
 * const release = slab.hold();
 * slab.retire(); // the reader moved on; a chunk still holds it
 * assert.equal(pool.free, 0);
 * release();
 * assert.equal(pool.free, 1);
 * assert.equal(pool.take(100).bytes.buffer, slab.bytes.buffer); // reused
 * ```
 */
export class SlabPool {
  readonly #slabBytes: number;
  readonly #maxFree: number;
  readonly #free: ArrayBuffer[] = [];

  /**
   * @param slabBytes bytes of a slab (a test may make it small)
   * @param maxFree slabs kept free at most
   */
  constructor(slabBytes = SLAB_BYTES, maxFree = MAX_FREE_SLABS) {
    this.#slabBytes = slabBytes;
    this.#maxFree = maxFree;
  }

  /** Bytes of a slab. */
  get slabBytes(): number {
    return this.#slabBytes;
  }

  /** Slabs free now. */
  get free(): number {
    return this.#free.length;
  }

  /** A slab of at least `minBytes` (a free one if it is large enough). */
  take(minBytes: number): Slab {
    if (minBytes <= this.#slabBytes) {
      const reused = this.#free.pop();
      return new Slab(new Uint8Array(reused ?? new ArrayBuffer(this.#slabBytes)), this);
    }
    return new Slab(new Uint8Array(minBytes), this); // larger than a slab: used once
  }

  /** Takes `buffer` back, when it is a slab's size and the free list has room. */
  give(buffer: ArrayBuffer): void {
    if (buffer.byteLength === this.#slabBytes && this.#free.length < this.#maxFree) {
      this.#free.push(buffer);
    }
  }
}

/**
 * One slab: held by its reader until it retires it, and by each chunk cut from it until that
 * chunk is released; back to its pool when no one holds it.
 */
export class Slab {
  /** The slab's bytes. */
  readonly bytes: Uint8Array;
  readonly #pool: SlabPool;
  /** The reader's hold, plus one per chunk not yet released. */
  #holds = 1;

  /**
   * @param bytes the slab's memory
   * @param pool where it goes back
   */
  constructor(bytes: Uint8Array, pool: SlabPool) {
    this.bytes = bytes;
    this.#pool = pool;
  }

  /** A hold for a chunk cut from the slab; the function returned lets it go (once). */
  hold(): () => void {
    this.#holds++;
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.#drop();
    };
  }

  /** The reader is done with the slab (its chunks may still hold it). */
  retire(): void {
    this.#drop();
  }

  #drop(): void {
    if (--this.#holds === 0) this.#pool.give(this.bytes.buffer as ArrayBuffer);
  }
}
