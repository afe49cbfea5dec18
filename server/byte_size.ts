/**
 * Byte sizes as operators write them: `4096`, `512K`, `100M`, `2G`, `1T` (powers of 1024).
 *
 * @module
 */

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  K: 1024,
  M: 1024 ** 2,
  G: 1024 ** 3,
  T: 1024 ** 4,
};

/**
 * Parses a byte size; `undefined` if the text is not one (or is not a safe integer).
 *
 * @example
 * ```ts
 * import { parseByteSizeText } from "./byte_size.ts";
 * import assert from "node:assert/strict";
 * assert.equal(parseByteSizeText("50G"), 50 * 1024 ** 3);
 * assert.equal(parseByteSizeText("lots"), undefined);
 * ```
 */
export function parseByteSizeText(text: string): number | undefined {
  const match = /^(\d+)([KMGT]?)i?B?$/i.exec(text.trim());
  const value = match ? Number(match[1]) * SIZE_UNITS[match[2].toUpperCase()] : NaN;
  return Number.isSafeInteger(value) ? value : undefined;
}
