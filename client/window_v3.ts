/**
 * The bound of a pipelined connection: requests sent and not yet answered, by count and by bytes.
 * A request waits for room before it is encoded, so the memory a session holds beyond its callers'
 * own buffers is what its settings allow; waiters get room in the order they asked.
 *
 * @module
 */

/** A window's limits. */
export interface WindowLimits {
  /** Requests out at once at most. */
  maxRequests: number;
  /** Bytes of requests out at once at most (one request larger than this goes out alone). */
  maxBytes: number;
}

interface Waiter {
  bytes: number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * See the module comment.
 *
 * @example
 * ```ts
 * import { RequestWindow } from "./window_v3.ts";
 * import assert from "node:assert/strict";
 * const window = new RequestWindow({ maxRequests: 1, maxBytes: 100 });
 * await window.acquire(10);
 * let second = false;
 * const waiting = window.acquire(10).then(() => second = true);
 * assert.equal(second, false);
 * window.release(10);
 * await waiting;
 * assert.equal(second, true);
 * ```
 */
export class RequestWindow {
  readonly #limits: WindowLimits;
  #requests = 0;
  #bytes = 0;
  #waiters: Waiter[] = [];
  #failed: unknown;

  /** A window with these limits. */
  constructor(limits: WindowLimits) {
    this.#limits = limits;
  }

  /** Requests holding room now. */
  get requests(): number {
    return this.#requests;
  }

  /** Bytes held now. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Takes room for one request of `bytes`, waiting until there is some.
   *
   * @throws the error given to `fail`, once it was called.
   */
  acquire(bytes: number): Promise<void> {
    if (this.#failed !== undefined) return Promise.reject(this.#failed);
    if (this.#waiters.length === 0 && this.#fits(bytes)) {
      this.#take(bytes);
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => this.#waiters.push({ bytes, resolve, reject }));
  }

  /**
   * Takes room for one request of `bytes` if there is some now and no one waits: what `acquire`
   * does without a promise (the common case of a window with room).
   *
   * @returns whether it took room (else call `acquire`).
   * @throws the error given to `fail`, once it was called.
   */
  tryAcquire(bytes: number): boolean {
    if (this.#failed !== undefined) throw this.#failed;
    if (this.#waiters.length > 0 || !this.#fits(bytes)) return false;
    this.#take(bytes);
    return true;
  }

  /** Gives back the room of a request that was answered (or never sent). */
  release(bytes: number): void {
    this.#requests--;
    this.#bytes -= bytes;
    while (this.#waiters.length > 0 && this.#fits(this.#waiters[0].bytes)) {
      const waiter = this.#waiters.shift()!;
      this.#take(waiter.bytes);
      waiter.resolve();
    }
  }

  /** Refuses every waiter and every later `acquire` with `error`. */
  fail(error: unknown): void {
    if (this.#failed !== undefined) return;
    this.#failed = error;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.reject(error);
  }

  #fits(bytes: number): boolean {
    return this.#requests < this.#limits.maxRequests &&
      (this.#bytes + bytes <= this.#limits.maxBytes || this.#requests === 0);
  }

  #take(bytes: number): void {
    this.#requests++;
    this.#bytes += bytes;
  }
}
