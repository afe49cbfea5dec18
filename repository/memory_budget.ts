/**
 * One budget of bytes shared by many holders (the packs every upload fills): `take` waits while
 * the budget is spent, `give` returns bytes and wakes the waiters in order. A request larger than
 * the whole budget is let through once nothing else is held, so that it never waits for good.
 *
 * @example
 * ```ts
 * import { MemoryBudget } from "./memory_budget.ts";
 * import assert from "node:assert/strict";
 *
 * const budget = new MemoryBudget(10);
 * await budget.take(8);
 * let second = false;
 * const waiting = budget.take(5).then(() => second = true);
 * assert.equal(budget.fits(5), false);
 * budget.give(8);
 * await waiting;
 * assert.ok(second);
 * assert.equal(budget.used, 5);
 * ```
 *
 * @module
 */

/** A budget of bytes; see the module comment. */
export class MemoryBudget {
  readonly #limit: number;
  #used = 0;
  readonly #waiting: Array<{ bytes: number; resolve: () => void }> = [];

  /** @param limit bytes that may be held at once */
  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Bytes held now. */
  get used(): number {
    return this.#used;
  }

  /** Whether `bytes` more would be let through now (and nobody waits before them). */
  fits(bytes: number): boolean {
    return this.#waiting.length === 0 && this.#admits(bytes);
  }

  /** Holds `bytes`, once they fit. */
  take(bytes: number): Promise<void> {
    if (this.fits(bytes)) {
      this.#used += bytes;
      return Promise.resolve();
    }
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#waiting.push({ bytes, resolve });
    return promise;
  }

  /** Returns bytes `take` held. */
  give(bytes: number): void {
    this.#used = Math.max(0, this.#used - bytes);
    while (this.#waiting.length > 0 && this.#admits(this.#waiting[0].bytes)) {
      const next = this.#waiting.shift()!;
      this.#used += next.bytes;
      next.resolve();
    }
  }

  #admits(bytes: number): boolean {
    return this.#used + bytes <= this.#limit || this.#used === 0;
  }
}
