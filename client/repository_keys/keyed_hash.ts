/**
 * HMAC-SHA-256 (RFC 2104) under one key, its padded key blocks worked out once: the same bytes as
 * node:crypto's `createHmac("sha256", key)`, without a stream object and two pad hashes per
 * message. A backup names and seals every blob under the same two keys (its id, its blob key), so
 * per-message set-up, not hashing, was much of what sealing cost beyond the plain repository's.
 *
 * @example
 * ```ts
 * import { KeyedHash } from "./keyed_hash.ts";
 * import { createHmac } from "node:crypto";
 * import assert from "node:assert/strict";
 * const key = new Uint8Array(32).fill(7);
 * const message = new TextEncoder().encode("a chunk");
 * const mac = KeyedHash.of(key);
 * assert.equal(mac.hex(message), createHmac("sha256", key).update(message).digest("hex"));
 * assert.deepEqual(mac.short(message.subarray(0, 2), message.subarray(2)), mac.bytes(message));
 * ```
 *
 * @module
 */
import { createHash, type Hash, hash } from "node:crypto";

const BLOCK_BYTES = 64;
const DIGEST_BYTES = 32;

// One per key array: the keys of an open repository are made once and never change.
const prepared = new WeakMap<Uint8Array, KeyedHash>();

/** HMAC-SHA-256 under one key (see the module comment). */
export class KeyedHash {
  /** SHA-256 having hashed the inner pad: copied for each long message. */
  readonly #inner: Hash;
  /** The inner pad, to prepend to a short message hashed in one call. */
  readonly #innerPad: Uint8Array;
  /** The outer pad, then room for the inner digest: hashed in one call. */
  readonly #outer = new Uint8Array(BLOCK_BYTES + DIGEST_BYTES);

  /**
   * Works the key's pads out.
   * @param key the HMAC key (a key over 64 bytes is hashed first, as RFC 2104 says)
   */
  constructor(key: Uint8Array) {
    const block = new Uint8Array(BLOCK_BYTES);
    block.set(key.length > BLOCK_BYTES ? hash("sha256", key, "buffer") : key);
    this.#innerPad = block.map((byte) => byte ^ 0x36);
    this.#outer.set(block.map((byte) => byte ^ 0x5c));
    this.#inner = createHash("sha256").update(this.#innerPad);
  }

  /** The one `KeyedHash` of `key` (made at its first use; `key` must not change after). */
  static of(key: Uint8Array): KeyedHash {
    let keyed = prepared.get(key);
    if (keyed === undefined) {
      keyed = new KeyedHash(key);
      prepared.set(key, keyed);
    }
    return keyed;
  }

  /** The MAC of `message`, as 32 bytes. */
  bytes(message: Uint8Array): Uint8Array {
    const inner = this.#inner.copy().update(message).digest();
    return bytesOf(hash("sha256", this.#outerOf(inner), "buffer"));
  }

  /** The MAC of `message`, as 64 lowercase hex digits. */
  hex(message: Uint8Array): string {
    const inner = this.#inner.copy().update(message).digest();
    return hash("sha256", this.#outerOf(inner), "hex");
  }

  /** The MAC of `parts` joined, for short messages (a few blocks): each is copied once. */
  short(...parts: Uint8Array[]): Uint8Array {
    let length = BLOCK_BYTES;
    for (const part of parts) length += part.length;
    const joined = new Uint8Array(length);
    joined.set(this.#innerPad);
    let at = BLOCK_BYTES;
    for (const part of parts) {
      joined.set(part, at);
      at += part.length;
    }
    return bytesOf(hash("sha256", this.#outerOf(hash("sha256", joined, "buffer")), "buffer"));
  }

  // Reused: everything here is synchronous, and `hash` reads it before returning.
  #outerOf(innerDigest: Uint8Array): Uint8Array {
    this.#outer.set(innerDigest, BLOCK_BYTES);
    return this.#outer;
  }
}

// node:crypto answers Buffers (perhaps views of a shared pool); callers compare and keep plain
// Uint8Arrays of their own: 32 bytes, copied.
function bytesOf(buffer: Uint8Array): Uint8Array {
  return new Uint8Array(buffer);
}
