/**
 * A pool of equal-sized transfer buffers, so that a connection holds a large buffer only while a
 * payload moves, and buffers are reused rather than reallocated.
 */
export class BufferPool {
  readonly #free: Uint8Array[] = [];
  readonly #bufferSize: number;
  readonly #maxFree: number;

  /**
   * @param bufferSize bytes per buffer
   * @param maxFree buffers kept for reuse; more are left to the garbage collector
   */
  constructor(bufferSize: number, maxFree: number) {
    this.#bufferSize = bufferSize;
    this.#maxFree = maxFree;
  }

  /** Bytes per buffer. */
  get bufferSize(): number {
    return this.#bufferSize;
  }

  /** Takes a buffer; give it back with `release`. */
  acquire(): Uint8Array {
    return this.#free.pop() ?? new Uint8Array(this.#bufferSize);
  }

  /** Returns a buffer taken with `acquire`. */
  release(buffer: Uint8Array): void {
    if (this.#free.length < this.#maxFree) this.#free.push(buffer);
  }
}
