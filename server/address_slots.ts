/**
 * Connections open per peer address, so that one address cannot take every connection slot
 * (`maxConnectionsPerAddress`).
 *
 * @module
 */

/** Counts connections per address against a cap (0: no cap). */
export class AddressSlots {
  readonly #cap: number;
  readonly #open = new Map<string, number>();

  /** @param cap connections at once per address; 0 turns the cap off */
  constructor(cap: number) {
    this.#cap = cap;
  }

  /**
   * Takes a slot for `host`; false if the address already holds `cap` of them. Each slot taken
   * must be given back with `release`.
   *
   * @example
   * ```ts
   * import { AddressSlots } from "./address_slots.ts";
   * import assert from "node:assert/strict";
   * const slots = new AddressSlots(1);
   * assert.equal(slots.take("192.0.2.1"), true);
   * assert.equal(slots.take("192.0.2.1"), false);
   * assert.equal(slots.take("192.0.2.2"), true);
   * slots.release("192.0.2.1");
   * assert.equal(slots.take("192.0.2.1"), true);
   * ```
   */
  take(host: string): boolean {
    const open = this.#open.get(host) ?? 0;
    if (this.#cap > 0 && open >= this.#cap) return false;
    this.#open.set(host, open + 1);
    return true;
  }

  /** Gives back a slot `take` gave `host`. */
  release(host: string): void {
    const left = (this.#open.get(host) ?? 1) - 1;
    if (left > 0) this.#open.set(host, left);
    else this.#open.delete(host);
  }
}
