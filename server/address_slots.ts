/**
 * Connections open per peer address, so that one address cannot take every connection slot
 * (`maxConnectionsPerAddress`).
 *
 * @module
 */

/**
 * The address a connection counts against: an IPv4 address itself (also when IPv4-mapped), an
 * IPv6 address's /64, since one host is usually given a whole /64 and could rotate within it.
 *
 * @example
 * ```ts
 * import { addressGroup } from "./address_slots.ts";
 * import assert from "node:assert/strict";
 * assert.equal(addressGroup("192.0.2.1"), "192.0.2.1");
 * assert.equal(addressGroup("::ffff:192.0.2.1"), "192.0.2.1");
 * assert.equal(addressGroup("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
 * assert.equal(addressGroup("2001:db8::7"), "2001:db8:0:0::/64");
 * ```
 */
export function addressGroup(host: string): string {
  if (!host.includes(":")) return host;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host);
  if (mapped) return mapped[1];
  const [head, tail = ""] = host.toLowerCase().split("%")[0].split("::");
  const left = head ? head.split(":") : [];
  const right = host.includes("::") ? (tail ? tail.split(":") : []) : [];
  const groups = [
    ...left,
    ...Array(Math.max(0, 8 - left.length - right.length)).fill("0"),
    ...right,
  ];
  return `${groups.slice(0, 4).map((group) => group.replace(/^0+(?=.)/, "")).join(":")}::/64`;
}

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
    host = addressGroup(host);
    const open = this.#open.get(host) ?? 0;
    if (this.#cap > 0 && open >= this.#cap) return false;
    this.#open.set(host, open + 1);
    return true;
  }

  /** Gives back a slot `take` gave `host`. */
  release(host: string): void {
    host = addressGroup(host);
    const left = (this.#open.get(host) ?? 1) - 1;
    if (left > 0) this.#open.set(host, left);
    else this.#open.delete(host);
  }
}
