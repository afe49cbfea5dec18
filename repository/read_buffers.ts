/**
 * The buffers chunked readers read runs into, shared by every reader of a process and capped in
 * bytes: a retrieve reads ahead in large runs while buffers are free, and chunk by chunk (as it
 * would with no pool) once they are all lent, so that many retrieves at once hold the cap plus a
 * chunk or two each, not the cap each. Buffers go when the last reader lets go, so that an idle
 * server keeps none.
 *
 * @example
 * ```ts
 * import { ReadBuffers } from "./read_buffers.ts";
 * import assert from "node:assert/strict";
 *
 * const buffers = new ReadBuffers({ bufferBytes: 1024, maxBytes: 2048 });
 * const done = buffers.join();
 * const one = buffers.take()!;
 * const two = buffers.take()!;
 * assert.equal(buffers.take(), undefined); // the cap: 2 buffers of 1 KiB
 * buffers.give(one);
 * assert.equal(buffers.take(), one); // reused
 * buffers.give(one);
 * buffers.give(two);
 * done();
 * assert.equal(buffers.allocated, 0); // the last reader gone: nothing kept
 * ```
 *
 * @module
 */

/** Sizes of a `ReadBuffers`. */
export interface ReadBuffersOptions {
  /** Bytes of each buffer: the most a run of chunks read at once takes. */
  bufferBytes: number;
  /** Bytes of all buffers together, lent or free. */
  maxBytes: number;
}

/** The defaults: runs of 4 MiB, 64 MiB for all readers (16 retrieves at full depth). */
export const READ_BUFFERS_DEFAULTS: ReadBuffersOptions = {
  bufferBytes: 4 * 1024 * 1024,
  maxBytes: 64 * 1024 * 1024,
};

/** A capped pool of run buffers, shared by the readers that `join` it (see the module comment). */
export class ReadBuffers {
  readonly bufferBytes: number;
  readonly #maxBuffers: number;
  readonly #free: ArrayBuffer[] = [];
  #allocated = 0;
  #readers = 0;

  /** @throws {RangeError} if the cap holds no buffer at all. */
  constructor(options: ReadBuffersOptions = READ_BUFFERS_DEFAULTS) {
    this.bufferBytes = options.bufferBytes;
    this.#maxBuffers = Math.floor(options.maxBytes / options.bufferBytes);
    if (!(this.#maxBuffers >= 1)) throw new RangeError("a ReadBuffers cap must hold one buffer");
  }

  /** Buffers that exist now, lent or free. */
  get allocated(): number {
    return this.#allocated;
  }

  /** Whether `take` would give a buffer now. */
  get available(): boolean {
    return this.#free.length > 0 || this.#allocated < this.#maxBuffers;
  }

  /** Counts a reader in; call what it returns once when the reader is done (buffers all given). */
  join(): () => void {
    this.#readers++;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      if (--this.#readers === 0) {
        this.#allocated -= this.#free.length;
        this.#free.length = 0;
      }
    };
  }

  /** A buffer of `bufferBytes`, or `undefined` if all the cap allows are lent. */
  take(): ArrayBuffer | undefined {
    const free = this.#free.pop();
    if (free) return free;
    if (this.#allocated >= this.#maxBuffers) return undefined;
    this.#allocated++;
    return new ArrayBuffer(this.bufferBytes);
  }

  /** Gives a buffer back (the same memory `take` gave, even if it came back from a worker). */
  give(buffer: ArrayBuffer): void {
    if (buffer.byteLength !== this.bufferBytes) throw new RangeError("not a buffer of this pool");
    if (this.#readers === 0) {
      this.#allocated--; // nobody reads: not kept
      return;
    }
    this.#free.push(buffer);
  }

  /** A lent buffer that will never come back (lost with a failed worker): no longer counted. */
  forget(): void {
    this.#allocated--;
  }
}

/** The pool every chunked reader of the process shares unless given another. */
export const SHARED_READ_BUFFERS: ReadBuffers = new ReadBuffers();
