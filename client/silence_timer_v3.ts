/**
 * The clock of a connection's timeout: armed while the server owes something, counted again from
 * every sign of life (bytes read or written), and stopped when nothing is owed, so that an idle
 * session never times out and a busy one only when it goes silent. A sign of life only notes the
 * time: one timer runs at a time and, when it fires early, waits out the rest (no timer is made
 * and cleared per answer).
 *
 * @module
 */

/** The clock used (tests pass their own, to be a silent server's clock). */
export interface Timers {
  /** As `globalThis.setTimeout`. */
  setTimeout(callback: () => void, ms: number): unknown;
  /** As `globalThis.clearTimeout`. */
  clearTimeout(handle: unknown): void;
  /** Milliseconds from some fixed point, as `performance.now`. */
  now(): number;
}

/** The real clock. */
export const REAL_TIMERS: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as number),
  now: () => performance.now(),
};

/**
 * See the module comment.
 *
 * @example
 * ```ts
 * import { REAL_TIMERS, SilenceTimer } from "./silence_timer_v3.ts";
 * import assert from "node:assert/strict";
 * let silent = false;
 * const timer = new SilenceTimer(REAL_TIMERS, 60_000, () => silent = true);
 * timer.restart(true); // something is owed: armed
 * timer.restart(false); // nothing owed: stopped
 * assert.equal(silent, false);
 * ```
 */
export class SilenceTimer {
  readonly #timers: Timers;
  readonly #ms: number;
  readonly #onSilent: () => void;
  #handle: unknown;
  #lastSign = 0;

  /**
   * A timer, stopped until `restart(true)`.
   * @param timers the clock
   * @param ms the silence allowed; 0: forever (never armed)
   * @param onSilent called once the silence lasted `ms`
   */
  constructor(timers: Timers, ms: number, onSilent: () => void) {
    this.#timers = timers;
    this.#ms = ms;
    this.#onSilent = onSilent;
  }

  /** The silence counts from now if `due` (something is owed); else the timer stops. */
  restart(due: boolean): void {
    if (!due || this.#ms <= 0) return this.stop();
    this.#lastSign = this.#timers.now();
    if (this.#handle === undefined) this.#arm(this.#ms);
  }

  /** Stops the timer. */
  stop(): void {
    if (this.#handle !== undefined) this.#timers.clearTimeout(this.#handle);
    this.#handle = undefined;
  }

  #arm(delay: number): void {
    this.#handle = this.#timers.setTimeout(() => {
      this.#handle = undefined;
      const silence = this.#timers.now() - this.#lastSign;
      if (silence >= this.#ms) this.#onSilent();
      else this.#arm(this.#ms - silence);
    }, delay);
  }
}
