import { LIST_NAME_LENGTH, LIST_SEPARATOR } from "./constants.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Compares two byte strings in byte order (what the list is sorted by). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}

/**
 * Encodes a list payload: the names sorted by their UTF-8 bytes, each followed by `\n`.
 *
 * @example
 * ```ts
 * import { encodeList } from "./list.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(new TextDecoder().decode(encodeList(["b/c.bin", "a.txt"])), "a.txt\nb/c.bin\n");
 * ```
 */
export function encodeList(names: Iterable<string>): Uint8Array {
  const encoded = [...names].map((name) => encoder.encode(name)).sort(compareBytes);
  const size = encoded.reduce((sum, bytes) => sum + bytes.length + 1, 0);
  const payload = new Uint8Array(size);
  let offset = 0;
  for (const bytes of encoded) {
    payload.set(bytes, offset);
    offset += bytes.length;
    payload[offset++] = LIST_SEPARATOR;
  }
  return payload;
}

/**
 * Decodes a list payload into names, in the order sent. A final name without its `\n` is kept.
 *
 * @example
 * ```ts
 * import { decodeList } from "./list.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(decodeList(new TextEncoder().encode("a.txt\nb/c.bin\n")), ["a.txt", "b/c.bin"]);
 * ```
 */
export function decodeList(payload: Uint8Array): string[] {
  const text = decoder.decode(payload);
  const names = text.split("\n");
  if (names.at(-1) === "") names.pop();
  return names;
}

const ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** A random name of 32 alphanumeric characters for a list response, as the original server sends. */
export function randomListName(): string {
  const random = crypto.getRandomValues(new Uint8Array(LIST_NAME_LENGTH));
  let name = "";
  // 256 is 4 * 62 + 8: the slight bias toward the first 8 characters does not matter for a label.
  for (const byte of random) name += ALPHANUMERIC[byte % ALPHANUMERIC.length];
  return name;
}
