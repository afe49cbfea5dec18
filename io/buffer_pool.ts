/** Sizes and limits of a `BufferPool`. */
export interface BufferPoolOptions {
  /** Bytes per buffer for a payload larger than `smallSize`, while fewer than `maxLarge` are out. */
  largeSize: number;
  /** How many large buffers may be lent out at once; beyond that, buffers are small. */
  maxLarge: number;
  /** Bytes per buffer for payloads that fit one, and once `maxLarge` large ones are out. */
  smallSize: number;
  /** Small buffers kept for reuse; more are left to the garbage collector. */
  maxFreeSmall: number;
}

/**
 * A pool of transfer buffers, so that a connection holds a buffer only while a payload moves, and
 * buffers are reused rather than reallocated.
 *
 * Two sizes: large ones for large payloads while few run, because a socket write costs about the same
 * whatever its size, so larger writes move more per call; small ones for payloads that fit one (a
 * small file gains nothing from a large buffer, and many at once would churn them) and for every
 * transfer beyond `maxLarge` buffers, so that a crowd of clients does not multiply the large size.
 * Large buffers are all kept for reuse, so at most `maxLarge` of them ever exist; small ones are kept
 * up to `maxFreeSmall`, because a request that allocates its buffers afresh costs more than a small
 * file it moves (figures in docs/performance.md, third round).
 */
export class BufferPool {
  readonly #options: BufferPoolOptions;
  readonly #freeLarge: Uint8Array[] = [];
  readonly #freeSmall: Uint8Array[] = [];
  #largeLent = 0;

  constructor(options: BufferPoolOptions) {
    if (options.smallSize >= options.largeSize) {
      throw new RangeError("a BufferPool's small size must be below its large size");
    }
    this.#options = options;
  }

  /** Bytes per buffer of the smaller size: every buffer `acquire` returns has at least this many. */
  get smallSize(): number {
    return this.#options.smallSize;
  }

  /** Large buffers lent out now. */
  get largeLent(): number {
    return this.#largeLent;
  }

  /**
   * Takes a buffer for a payload of `payloadBytes`: large if the payload is larger than a small buffer
   * and fewer than `maxLarge` are out, else small. Give it back with `release`.
   */
  acquire(payloadBytes: number): Uint8Array {
    const { largeSize, maxLarge, smallSize } = this.#options;
    if (payloadBytes > smallSize && this.#largeLent < maxLarge) {
      this.#largeLent++;
      return this.#freeLarge.pop() ?? new Uint8Array(largeSize);
    }
    return this.#freeSmall.pop() ?? new Uint8Array(smallSize);
  }

  /** Returns a buffer taken with `acquire`. */
  release(buffer: Uint8Array): void {
    if (buffer.length === this.#options.largeSize) {
      this.#largeLent--;
      this.#freeLarge.push(buffer);
    } else if (this.#freeSmall.length < this.#options.maxFreeSmall) {
      this.#freeSmall.push(buffer);
    }
  }
}
