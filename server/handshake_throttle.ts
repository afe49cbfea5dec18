/**
 * Slows failed handshakes down per address: each failure from an address is answered one delay
 * after the previous one from it, the delay doubling with every failure, and the count forgotten
 * after a quiet spell, so that keys cannot be probed or the log flooded at wire speed. No answer
 * waits longer than the ceiling (each waiting failure holds a connection slot). Log lines are
 * rationed too.
 *
 * @module
 */

/** Options of `HandshakeThrottle`. */
export interface ThrottleOptions {
  /** Delay of a first failure, in ms. @default 250 */
  baseDelayMs?: number;
  /** Largest delay, in ms. @default 5000 */
  maxDelayMs?: number;
  /** A failure count is forgotten after this long without failures, in ms. @default 60000 */
  forgetAfterMs?: number;
  /** The clock (ms). @default performance.now */
  now?: () => number;
}

interface AddressRecord {
  failures: number;
  /** When the last delayed answer to this address is due. */
  nextAnswerAt: number;
  lastFailureAt: number;
  /** Failures not logged since the last line. */
  unlogged: number;
}

/** What to do about one failed handshake. */
export interface ThrottleDecision {
  /** Wait this long before answering and closing. */
  delayMs: number;
  /** Log this failure (false while the address's log lines are rationed). */
  log: boolean;
  /** Failures from the address that were not logged before this one. */
  suppressed: number;
  /** Failures from the address in a row. */
  failures: number;
}

/** Addresses remembered at most; the oldest are forgotten first. */
const MAX_ADDRESSES = 10_000;

/** See the module comment. */
export class HandshakeThrottle {
  readonly #base: number;
  readonly #max: number;
  readonly #forgetAfter: number;
  readonly #now: () => number;
  readonly #addresses = new Map<string, AddressRecord>();

  /** @param options delays and the clock */
  constructor(options: ThrottleOptions = {}) {
    this.#base = options.baseDelayMs ?? 250;
    this.#max = options.maxDelayMs ?? 5000;
    this.#forgetAfter = options.forgetAfterMs ?? 60_000;
    this.#now = options.now ?? (() => performance.now());
  }

  /**
   * Records a failed handshake from `address` (a host, without the port) and decides its delay.
   *
   * @example
   * ```ts
   * import { HandshakeThrottle } from "./handshake_throttle.ts";
   * import assert from "node:assert/strict";
   * const throttle = new HandshakeThrottle({ baseDelayMs: 100, now: () => 0 });
   * assert.equal(throttle.failed("192.0.2.1").delayMs, 100);
   * assert.equal(throttle.failed("192.0.2.1").delayMs, 300); // after the first, then 200 more
   * ```
   */
  failed(address: string): ThrottleDecision {
    const now = this.#now();
    let record = this.#addresses.get(address);
    if (record && now - record.lastFailureAt > this.#forgetAfter) record = undefined;
    record ??= { failures: 0, nextAnswerAt: now, lastFailureAt: now, unlogged: 0 };
    record.failures++;
    record.lastFailureAt = now;
    const step = Math.min(this.#max, this.#base * 2 ** Math.min(record.failures - 1, 30));
    // Never more than the ceiling from now: a waiting failure holds a connection slot, and a flood
    // of parallel attempts must not pile up slots for minutes.
    record.nextAnswerAt = Math.min(Math.max(now, record.nextAnswerAt) + step, now + this.#max);
    // The first few failures are logged one by one, then one line per power of two.
    const log = record.failures <= 3 || (record.failures & (record.failures - 1)) === 0;
    const suppressed = log ? record.unlogged : 0;
    record.unlogged = log ? 0 : record.unlogged + 1;
    this.#addresses.delete(address);
    this.#addresses.set(address, record);
    if (this.#addresses.size > MAX_ADDRESSES) {
      this.#addresses.delete(this.#addresses.keys().next().value!);
    }
    return { delayMs: record.nextAnswerAt - now, log, suppressed, failures: record.failures };
  }

  /** A successful handshake from `address` forgets its failures. */
  succeeded(address: string): void {
    this.#addresses.delete(address);
  }
}
