/**
 * Sealed blobs for the stores' tests: the store never opens a seal, so a sealed blob here is
 * noise of the seal's length under an id no SHA-256 of its bytes gives (as a keyed HMAC would).
 *
 * @module
 */
import type { IncomingBlob } from "../storage/snapshots.ts";
import { noise, sha256 } from "./_snapshots.ts";

/** A sealed data blob of `size` bytes (from `seed`), its id keyed otherwise than its bytes. */
export function sealedData(seed: number, size: number): IncomingBlob {
  const bytes = noise(seed, size);
  return { id: keyedId(bytes), kind: "data", encoding: "sealed", rawLength: size, bytes };
}

/** A sealed tree naming `refs` (its bytes: noise from `seed`; the refs in clear beside them). */
export function sealedTree(refs: Uint8Array[], seed: number, size = 300): IncomingBlob {
  const bytes = noise(seed, size);
  return { id: keyedId(bytes), kind: "tree", encoding: "sealed", rawLength: size, bytes, refs };
}

/** Stands for the client's HMAC-SHA-256 (id key, raw chunk): any id but the bytes' SHA-256. */
function keyedId(bytes: Uint8Array): Uint8Array {
  return sha256(new Uint8Array([0x6b, ...sha256(bytes)]));
}
