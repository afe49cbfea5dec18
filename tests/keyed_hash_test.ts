/**
 * `KeyedHash` (the HMAC-SHA-256 of keyed blob ids and blob keys, its pads worked out once) against
 * node:crypto's `createHmac`; the formats' vectors from Python are in repository_keys_test.ts.
 */
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { KeyedHash } from "../client/repository_keys/keyed_hash.ts";

const bytes = (length: number, seed: number) =>
  Uint8Array.from({ length }, (_, i) => (i * 31 + seed * 17) & 0xff);

Deno.test("KeyedHash answers createHmac's bytes, keys and messages around the block sizes", () => {
  for (const keyLength of [0, 1, 32, 63, 64, 65, 100]) {
    const key = bytes(keyLength, keyLength);
    const mac = new KeyedHash(key);
    for (const length of [0, 1, 34, 55, 56, 63, 64, 65, 119, 120, 1000, 100_000]) {
      const message = bytes(length, length + 1);
      const expected = createHmac("sha256", key).update(message).digest();
      assert.deepEqual(mac.bytes(message), new Uint8Array(expected), `${keyLength}/${length}`);
      assert.equal(mac.hex(message), expected.toString("hex"), `${keyLength}/${length}`);
      const cut = Math.floor(length / 3);
      assert.deepEqual(
        mac.short(message.subarray(0, cut), message.subarray(cut)),
        new Uint8Array(expected),
        `${keyLength}/${length} in parts`,
      );
    }
  }
});

Deno.test("KeyedHash answers stay apart: calls in turn, answers kept, one per key array", () => {
  const key = bytes(32, 9);
  const mac = KeyedHash.of(key);
  assert.equal(KeyedHash.of(key), mac);
  assert.notEqual(KeyedHash.of(bytes(32, 9)), mac);
  const first = mac.bytes(bytes(10, 1));
  const second = mac.short(bytes(10, 2));
  assert.deepEqual(first, new Uint8Array(createHmac("sha256", key).update(bytes(10, 1)).digest()));
  assert.deepEqual(second, new Uint8Array(createHmac("sha256", key).update(bytes(10, 2)).digest()));
  assert.equal(first.byteLength, 32);
  assert.equal(first.buffer.byteLength, 32);
});
