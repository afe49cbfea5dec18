/**
 * Byte comparison shared by every layer.
 *
 * @module
 */

/**
 * Whether two byte arrays hold the same bytes. Every byte is looked at whatever the first
 * difference (digests are compared with it: no timing says how much of one matched).
 *
 * @example
 * ```ts
 * import { sameBytes } from "./bytes.ts";
 * import assert from "node:assert/strict";
 * assert.ok(sameBytes(new Uint8Array([1, 2]), new Uint8Array([1, 2])));
 * assert.ok(!sameBytes(new Uint8Array([1, 2]), new Uint8Array([1, 3])));
 * ```
 */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a[i] ^ b[i];
  return difference === 0;
}
