/**
 * How much a version 3 connection works on ahead of its answers: at most `maxRequests` requests
 * and `maxBytes` bytes held (request bodies until their work is done, answers until they are
 * written), so a client that streams requests is read ahead of, and its memory stays bounded.
 *
 * @module
 */
import { ConnectionLostError } from "../io/connection_errors.ts";

/**
 * Counts what a connection holds and makes the reader wait for room. A request larger than
 * `maxBytes` is admitted once nothing else is held (alone, it is bounded by the protocol's limits).
 *
 * @example
 * ```ts
 * import { PipelineWindowV3 } from "./pipeline_window_v3.ts";
 * import assert from "node:assert/strict";
 * const window = new PipelineWindowV3({ maxRequests: 2, maxBytes: 100 });
 * await window.admit(60);
 * let second = false;
 * const admitted = window.admit(60).then(() => second = true);
 * await Promise.resolve();
 * assert.equal(second, false); // 120 bytes would be over 100
 * window.release(60, true);
 * await admitted;
 * assert.equal(window.requests, 1);
 * ```
 */
export class PipelineWindowV3 {
  readonly #maxRequests: number;
  readonly #maxBytes: number;
  #requests = 0;
  #bytes = 0;
  #waiter: { bytes: number; resolve: () => void; reject: (error: unknown) => void } | undefined;
  #closed: unknown;

  /** @param limits requests and bytes held at most (each at least 1) */
  constructor(limits: { maxRequests: number; maxBytes: number }) {
    this.#maxRequests = limits.maxRequests;
    this.#maxBytes = limits.maxBytes;
  }

  /** Requests admitted and not yet released. */
  get requests(): number {
    return this.#requests;
  }

  /** Bytes held now. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Waits until one more request holding `bytes` fits, then counts it in. One waiter at a time
   * (the connection's reader).
   *
   * @throws {ConnectionLostError} once the window is closed.
   */
  admit(bytes: number): Promise<void> {
    if (this.#closed !== undefined) return Promise.reject(this.#closed);
    if (this.#fits(bytes)) {
      this.#take(bytes);
      return Promise.resolve();
    }
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.#waiter = { bytes, resolve, reject };
    return promise;
  }

  /** Holds `delta` more bytes (or fewer, if negative): a body let go, an answer read. */
  adjust(delta: number): void {
    this.#bytes += delta;
    this.#wake();
  }

  /** Lets go of `bytes`, and of one request if `request` (its answer is written). */
  release(bytes: number, request: boolean): void {
    this.#bytes -= bytes;
    if (request) this.#requests--;
    this.#wake();
  }

  /** Refuses every admission from now on; a waiting one is rejected. */
  close(): void {
    this.#closed ??= new ConnectionLostError("the connection's pipeline closed");
    this.#waiter?.reject(this.#closed);
    this.#waiter = undefined;
  }

  #fits(bytes: number): boolean {
    if (this.#requests >= this.#maxRequests) return false;
    return this.#bytes === 0 || this.#bytes + bytes <= this.#maxBytes;
  }

  #take(bytes: number): void {
    this.#requests++;
    this.#bytes += bytes;
  }

  #wake(): void {
    const waiter = this.#waiter;
    if (waiter && this.#fits(waiter.bytes)) {
      this.#waiter = undefined;
      this.#take(waiter.bytes);
      waiter.resolve();
    }
  }
}
