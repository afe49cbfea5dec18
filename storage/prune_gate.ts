/**
 * Whether a user's `Prune` needs a garbage collection run at all: not when one finished less than
 * `gapMs` ago and nothing was forgotten or dropped since (a client looping Prune would otherwise
 * keep the server collecting without pause). Each store keeps one; what it answers then is
 * "nothing freed". On S3 forgets through other servers are not seen here: they wait for the gap.
 *
 * @example
 * ```ts
 * import { PruneGate } from "./prune_gate.ts";
 * import assert from "node:assert/strict";
 * let now = 0;
 * const gate = new PruneGate(60_000, () => now);
 * assert.equal(gate.needed(), true);
 * gate.ran(gate.generation);
 * assert.equal(gate.needed(), false); // nothing new to collect
 * gate.changed(); // a snapshot forgotten
 * assert.equal(gate.needed(), true);
 * gate.ran(gate.generation);
 * now = 60_000;
 * assert.equal(gate.needed(), true); // grace periods may have run out since
 * ```
 *
 * @module
 */

/** How long a finished run answers for, by default. */
export const PRUNE_GAP_MS = 60_000;

/** See the module comment. */
export class PruneGate {
  readonly #gapMs: number;
  readonly #now: () => number;
  #generation = 0;
  #last: { endMs: number; generation: number } | undefined;

  /**
   * @param gapMs how long a finished run answers for
   * @param now the store's clock
   */
  constructor(gapMs: number, now: () => number) {
    this.#gapMs = gapMs;
    this.#now = now;
  }

  /** Counts changes that can free space: take it before a run starts, give it to `ran`. */
  get generation(): number {
    return this.#generation;
  }

  /** Something was forgotten or dropped: the next prune runs. */
  changed(): void {
    this.#generation++;
  }

  /** Whether a prune asked now needs a run. */
  needed(): boolean {
    const last = this.#last;
    return last === undefined || last.generation !== this.#generation ||
      this.#now() - last.endMs >= this.#gapMs;
  }

  /** A run that started at `generation` finished now. */
  ran(generation: number): void {
    this.#last = { endMs: this.#now(), generation };
  }
}
