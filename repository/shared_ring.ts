/**
 * A ring of bytes in a `SharedArrayBuffer`, addressed by stream offset: byte `n` of a stream lives
 * at `n % capacity`. An upload copies what it receives into the ring once; the chunk hashing worker
 * reads the same memory (nothing is transferred or copied per chunk), and chunks stored raw are
 * written to their pack straight from it. Rings of the largest size are pooled: at most
 * {@linkcode KEPT_RINGS} exist, each kept for the next upload once its upload ends, so that a busy
 * server does not fault in fresh pages per upload. Only pooled rings go to the hashing worker: a
 * ring it was given stays in its heap until it happens to collect, so rings made past the pool are
 * hashed on the event loop and left to its collector.
 *
 * @example
 * ```ts
 * import { SharedRing } from "./shared_ring.ts";
 * import assert from "node:assert/strict";
 *
 * const ring = SharedRing.take(8, 8);
 * assert.deepEqual(ring.spans(6, 10), [[6, 2], [0, 2]]); // wraps around the end
 * ring.release();
 * ```
 *
 * @module
 */

/** Rings of the full size in the pool (in use or kept for the next upload). */
export const KEPT_RINGS = 4;

/** A span of the ring: `[offset, length]`. */
export type RingSpan = readonly [number, number];

/** A ring of `capacity` bytes; see the module comment. */
export class SharedRing {
  static readonly #kept: Array<SharedArrayBuffer | ArrayBuffer> = [];
  /** Pooled rings made and not dropped: in use, or in `#kept`. */
  static #pooledCount = 0;
  #keep: boolean;
  /** Whether it is one of the pool's (which alone may be handed to the hashing worker). */
  readonly pooled: boolean;
  /**
   * The memory: shared with the hashing worker if the ring is pooled, else a plain `ArrayBuffer`
   * (V8 counts those against its heap and collects them soon; dropped shared ones linger).
   */
  readonly memory: SharedArrayBuffer | ArrayBuffer;
  /** A view of all of it. */
  readonly bytes: Uint8Array;

  private constructor(memory: SharedArrayBuffer | ArrayBuffer, keep: boolean) {
    this.memory = memory;
    this.bytes = new Uint8Array(memory);
    this.#keep = keep;
    this.pooled = keep;
  }

  /**
   * A ring of `capacity` bytes: a pooled one if `capacity` is `fullSize` and the pool has one free
   * or room for one more, else a new one left to the collector (`pooled` false).
   */
  static take(capacity: number, fullSize: number): SharedRing {
    if (capacity === fullSize) {
      const kept = SharedRing.#kept.pop();
      if (kept && kept.byteLength === capacity) return new SharedRing(kept, true);
      if (kept) SharedRing.#pooledCount--; // another size: dropped from the pool
      if (SharedRing.#pooledCount < KEPT_RINGS) {
        SharedRing.#pooledCount++;
        return new SharedRing(new SharedArrayBuffer(capacity), true);
      }
    }
    return new SharedRing(new ArrayBuffer(Math.max(1, capacity)), false);
  }

  /** Its size in bytes. */
  get capacity(): number {
    return this.memory.byteLength;
  }

  /** Where stream bytes `start` to `end` are: one span, or two if they wrap around the end. */
  spans(start: number, end: number): RingSpan[] {
    const at = start % this.capacity;
    const length = end - start;
    if (at + length <= this.capacity) return [[at, length]];
    const first = this.capacity - at;
    return [[at, first], [0, length - first]];
  }

  /**
   * Stream bytes `start` to `end`: a view of the ring if they do not wrap (valid until those bytes
   * are released), else a copy.
   */
  view(start: number, end: number): Uint8Array {
    const spans = this.spans(start, end);
    if (spans.length === 1) return this.bytes.subarray(spans[0][0], spans[0][0] + spans[0][1]);
    const copy = new Uint8Array(end - start);
    let filled = 0;
    for (const [at, length] of spans) {
      copy.set(this.bytes.subarray(at, at + length), filled);
      filled += length;
    }
    return copy;
  }

  /** Gives the ring back for a later upload; nothing may use it after (hashes and writes done). */
  release(): void {
    if (this.#keep) SharedRing.#kept.push(this.memory);
    this.#keep = false; // given back once at most
  }
}
