/**
 * Several countdowns on one connection's deadline: a version 3 connection reads requests and
 * writes answers at the same time, each with its own timeout; the watchdog sees the earliest.
 *
 * @module
 */
import type { Deadline } from "./watchdog.ts";

interface Part {
  expiresAt: number;
  reason: string;
}

/**
 * Splits a `Deadline` into parts armed independently; the earliest armed part is the one armed.
 *
 * @example
 * ```ts
 * import { SplitDeadline } from "./split_deadline.ts";
 * import assert from "node:assert/strict";
 * const armed: string[] = [];
 * const split = new SplitDeadline({
 *   arm: (_ms, reason) => void armed.push(reason),
 *   disarm: () => void armed.push("off"),
 *   release() {},
 * });
 * const reader = split.part();
 * const writer = split.part();
 * reader.arm(60_000, "idle timeout");
 * writer.arm(5_000, "client stopped reading");
 * writer.disarm();
 * reader.disarm();
 * assert.deepEqual(armed, ["idle timeout", "client stopped reading", "idle timeout", "off"]);
 * ```
 */
export class SplitDeadline {
  readonly #deadline: Deadline;
  readonly #parts: Part[] = [];

  /** @param deadline the connection's deadline (its owner releases it) */
  constructor(deadline: Deadline) {
    this.#deadline = deadline;
  }

  /** A new countdown, disarmed. Its `release` disarms it. */
  part(): Deadline {
    const part: Part = { expiresAt: Infinity, reason: "" };
    this.#parts.push(part);
    const disarm = () => {
      part.expiresAt = Infinity;
      this.#apply();
    };
    return {
      arm: (ms, reason) => {
        part.expiresAt = ms > 0 ? performance.now() + ms : Infinity;
        part.reason = reason;
        this.#apply();
      },
      disarm,
      release: disarm,
    };
  }

  #apply(): void {
    let first: Part | undefined;
    for (const part of this.#parts) {
      if (part.expiresAt < (first?.expiresAt ?? Infinity)) first = part;
    }
    if (!first) this.#deadline.disarm();
    else this.#deadline.arm(Math.max(1, first.expiresAt - performance.now()), first.reason);
  }
}
