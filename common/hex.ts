/**
 * Bytes as lowercase hex, for logs, reports and comparisons by key.
 *
 * @example
 * ```ts
 * import { toHex } from "./hex.ts";
 * import assert from "node:assert/strict";
 * assert.equal(toHex(new Uint8Array([0, 15, 255])), "000fff");
 * ```
 *
 * @module
 */

/** The bytes as lowercase hex, two digits each. */
export function toHex(bytes: Uint8Array): string {
  // Native: a string per byte was a visible cost of a server taking many small blobs.
  return bytes.toHex();
}
