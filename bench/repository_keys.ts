/**
 * What an encrypted repository's primitives cost here (docs/keys_plan.md): ChaCha20-Poly1305
 * against AES-256-GCM on 64 MiB (both from `node:crypto`, same run), sealing 3,000 blobs of 8 KiB
 * (a key per blob) against hashing them only, and opening a passphrase slot at scrypt costs
 * N = 2^15..2^17 (r 8, p 1).
 *
 * `deno run -A bench/repository_keys.ts`
 *
 * @module
 */
import { createCipheriv, createHash, randomBytes } from "node:crypto";
import { keyedId, sealBlob } from "../client/repository_keys/blob_seal.ts";
import { makeSlot, newMasterKey, openSlot } from "../client/repository_keys/key_slot.ts";

const ms = (start: number) => (performance.now() - start).toFixed(1);
const big = randomBytes(64 << 20);
for (const cipher of ["chacha20-poly1305", "aes-256-gcm"] as const) {
  for (let round = 0; round < 2; round++) {
    const start = performance.now();
    const c = createCipheriv(cipher as "aes-256-gcm", randomBytes(32), randomBytes(12));
    c.update(big);
    c.final();
    console.log(`${cipher}: ${(64 / ((performance.now() - start) / 1000)).toFixed(0)} MiB/s`);
  }
}
const key = newMasterKey();
const blobs = Array.from({ length: 3000 }, () => randomBytes(8192));
let start = performance.now();
for (const bytes of blobs) createHash("sha256").update(bytes).digest();
console.log(`3,000 blobs of 8 KiB, SHA-256 only: ${ms(start)} ms`);
start = performance.now();
for (const bytes of blobs) {
  sealBlob(key, { kind: "data", id: keyedId(key, bytes), encoding: "raw", bytes });
}
console.log(`3,000 blobs of 8 KiB, keyed id and seal: ${ms(start)} ms`);
for (const logN of [15, 16, 17]) {
  const options = { createdMs: 0, host: "", user: "", cost: { logN, r: 8, p: 1 } };
  const slot = await makeSlot(key, { passphrase: "bench" }, options);
  start = performance.now();
  await openSlot(slot, { passphrase: "bench" });
  console.log(`open a passphrase slot, N=2^${logN} r=8 p=1: ${ms(start)} ms`);
}
