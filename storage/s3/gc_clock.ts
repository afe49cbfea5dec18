/**
 * The clocks garbage collection on a shared bucket reads on a server (docs/s3_repository_plan.md
 * §3.1): the wall clock (to sign requests), a monotonic clock, and sleeping; injected, so that tests
 * run the protocols with durations of milliseconds or with a clock they move by hand.
 *
 * Elapsed time is the larger of the monotonic and the wall-clock deltas: a monotonic clock stops
 * while the machine is suspended (a trap restic hit, `internal/repository/lock.go:189-198`), and a
 * wall clock can be stepped back; a pause must never look shorter than it was.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { elapsedMs, instantOf, systemClock } from "./gc_clock.ts";
 * const start = instantOf(systemClock);
 * await systemClock.sleep(5);
 * assert.ok(elapsedMs(systemClock, start) >= 4);
 * ```
 *
 * @module
 */

/** The clocks and the sleep the GC protocols use. */
export interface GcClock {
  /** The wall clock, ms since the epoch (what requests are signed with). */
  now(): number;
  /** A monotonic clock in ms (`performance.now()`). */
  monotonic(): number;
  /** Resolves after `ms`, or as soon as `signal` aborts (never rejects). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** A moment on both clocks. */
export interface Instant {
  /** `GcClock.now()` then. */
  wallMs: number;
  /** `GcClock.monotonic()` then. */
  monotonicMs: number;
}

/** The process's own clocks and timers. */
export const systemClock: GcClock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      signal?.addEventListener("abort", done, { once: true });
    });
  },
};

/** Now, on both of `clock`'s clocks. */
export function instantOf(clock: GcClock): Instant {
  return { wallMs: clock.now(), monotonicMs: clock.monotonic() };
}

/** Time since `since`: the larger of the two clocks' deltas (see the module comment). */
export function elapsedMs(clock: GcClock, since: Instant): number {
  return Math.max(clock.monotonic() - since.monotonicMs, clock.now() - since.wallMs);
}
