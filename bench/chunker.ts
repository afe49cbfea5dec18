/**
 * Chunker throughput beside SHA-256 over the same bytes in the same run: the chunker must not be the
 * bottleneck of a backup, which hashes every byte anyway.
 *
 * `deno run bench/chunker.ts [MiB]` (no permissions needed; 256 MiB by default). Prints MiB/s, best
 * of 3, for: the chunker at the default sizes fed 1 MiB pushes; a bare gear-hash scan of every byte
 * (what the chunker would cost without cut-point skipping); `node:crypto` SHA-256 fed 1 MiB updates.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { Chunker, GEAR_SEED, gearTable } from "../chunking/fastcdc.ts";

const MiB = 1024 * 1024;
const DEFAULT_TOTAL_MIB = 256;
const PIECE = MiB;
const RANDOM_FILL_LIMIT = 65_536; // crypto.getRandomValues fills at most this many bytes per call
const ROUNDS = 3;

function randomBytes(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let offset = 0; offset < length; offset += RANDOM_FILL_LIMIT) {
    crypto.getRandomValues(bytes.subarray(offset, offset + RANDOM_FILL_LIMIT));
  }
  return bytes;
}

/** Best MiB/s of `ROUNDS` runs of `pass` over `bytes`; `pass` returns a value so nothing is elided. */
function best(
  bytes: Uint8Array,
  pass: (bytes: Uint8Array) => number,
): { mibps: number; out: number } {
  let fastest = Infinity;
  let out = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const start = performance.now();
    out = pass(bytes);
    fastest = Math.min(fastest, performance.now() - start);
  }
  return { mibps: bytes.length / MiB / (fastest / 1000), out };
}

function chunk(bytes: Uint8Array): number {
  const chunker = new Chunker();
  let chunks = 0;
  for (let offset = 0; offset < bytes.length; offset += PIECE) {
    chunks += chunker.push(bytes.subarray(offset, offset + PIECE)).length;
  }
  return chunks + (chunker.finish() === undefined ? 0 : 1);
}

const gear = gearTable(GEAR_SEED);
function gearScan(bytes: Uint8Array): number {
  let hash = 0;
  for (let i = 0; i < bytes.length; i++) hash = ((hash << 1) + gear[bytes[i]]) | 0;
  return hash;
}

function sha256(bytes: Uint8Array): number {
  const hash = createHash("sha256");
  for (let offset = 0; offset < bytes.length; offset += PIECE) {
    hash.update(bytes.subarray(offset, offset + PIECE));
  }
  return hash.digest()[0];
}

const totalMiB = Number(Deno.args[0] ?? DEFAULT_TOTAL_MIB);
const bytes = randomBytes(totalMiB * MiB);
const chunker = best(bytes, chunk);
const scan = best(bytes, gearScan);
const digest = best(bytes, sha256);
const format = (mibps: number) => `${mibps.toFixed(0).padStart(6)} MiB/s`;
console.log(`${totalMiB} MiB of random bytes, best of ${ROUNDS}, Deno ${Deno.version.deno}`);
const { minSize, averageSize, maxSize, normalization } = new Chunker().sizes;
const KiB = 1024;
console.log(
  `chunker (${minSize / KiB}/${averageSize / KiB}/${maxSize / KiB} KiB, level ${normalization}) ` +
    `${format(chunker.mibps)}  ` +
    `${chunker.out} chunks, mean ${(totalMiB / chunker.out).toFixed(2)} MiB`,
);
console.log(`gear scan, every byte         ${format(scan.mibps)}`);
console.log(`sha256 (node:crypto)          ${format(digest.mibps)}`);
console.log(`chunker / sha256              ${(chunker.mibps / digest.mibps).toFixed(2)}x`);
