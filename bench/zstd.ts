/**
 * zstd through `node:zlib` on 1 MiB chunks, to choose the blob codec's level and policy
 * (`repository/blob_codec.ts`): random chunks (what encrypted or already compressed files give)
 * and generated English-like text and JSON log lines.
 *
 * `deno run bench/zstd.ts [MiB per kind]` (no permissions needed; 32 by default). Prints, per kind:
 * memcpy and SHA-256 over the same chunks (the floor a backup pays anyway); levels 1 and 3 with the
 * sync form and with the callback form, with the ratio and how many timers could fire meanwhile
 * (summed over the passes; 0 means the callback form blocked the event loop); then `encodeBlob`
 * (the policy: sample, then level 3 if it pays) and `decodeBlob`. MiB/s is the best of 3 passes.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { constants, zstdCompress, zstdCompressSync, type ZstdOptions } from "node:zlib";
import { decodeBlob, encodeBlob } from "../repository/blob_codec.ts";

const MiB = 1024 * 1024;
const DEFAULT_MIB = 32;
const ROUNDS = 3;
const LEVELS = [1, 3];

/** mulberry32: a small seeded generator, so every run compresses the same bytes. */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Pseudo-words drawn with a Zipf-like law (rank r has weight 1/r), as prose has. */
function wordSource(random: () => number): () => string {
  const syllables = ["ka", "to", "re", "mi", "sun", "lo", "ver", "an", "is", "th", "e", "qu", "or"];
  const words: string[] = [];
  for (let i = 0; i < 8000; i++) {
    let word = "";
    const length = 1 + Math.floor(random() * 4);
    for (let s = 0; s < length; s++) word += syllables[Math.floor(random() * syllables.length)];
    words.push(word);
  }
  // Inverse of the Zipf CDF, approximated by exp(u * ln n).
  return () =>
    words[Math.min(words.length - 1, Math.floor(Math.exp(random() * Math.log(words.length))) - 1)];
}

function fill(length: number, next: () => string): Uint8Array {
  const parts: string[] = [];
  let size = 0;
  while (size < length) {
    const part = next();
    parts.push(part);
    size += part.length;
  }
  return new TextEncoder().encode(parts.join("")).subarray(0, length);
}

function textChunks(count: number): Uint8Array[] {
  const random = generator(1);
  const word = wordSource(random);
  const sentence = () => {
    const words = Array.from({ length: 5 + Math.floor(random() * 15) }, word);
    return words.join(" ") + (random() < 0.2 ? ".\n" : ". ");
  };
  return Array.from({ length: count }, () => fill(MiB, sentence));
}

function jsonChunks(count: number): Uint8Array[] {
  const random = generator(2);
  const word = wordSource(random);
  const levels = ["debug", "info", "info", "info", "warn", "error"];
  let time = Date.UTC(2025, 0, 1);
  const record = () => {
    time += Math.floor(random() * 2000);
    return JSON.stringify({
      ts: new Date(time).toISOString(),
      level: levels[Math.floor(random() * levels.length)],
      user: `u${Math.floor(random() * 100_000)}`,
      request: Math.floor(random() * 2 ** 32).toString(16).padStart(8, "0") +
        Math.floor(random() * 2 ** 32).toString(16).padStart(8, "0"),
      path: `/api/v1/${word()}/${Math.floor(random() * 10_000)}`,
      status: random() < 0.9 ? 200 : 404,
      latency_ms: Math.round(random() * 50_000) / 100,
      message: Array.from({ length: 3 + Math.floor(random() * 8) }, word).join(" "),
    }) + "\n";
  };
  return Array.from({ length: count }, () => fill(MiB, record));
}

function randomChunks(count: number): Uint8Array[] {
  return Array.from({ length: count }, () => {
    const chunk = new Uint8Array(MiB);
    for (let at = 0; at < MiB; at += 65536) crypto.getRandomValues(chunk.subarray(at, at + 65536));
    return chunk;
  });
}

function options(level: number, size: number): ZstdOptions {
  const options = { params: { [constants.ZSTD_c_compressionLevel]: level }, pledgedSrcSize: size };
  return options;
}

/** Best MiB/s of `ROUNDS` passes; `pass` returns the bytes it produced (for the ratio). */
async function best(
  chunks: Uint8Array[],
  pass: (chunks: Uint8Array[]) => number | Promise<number>,
): Promise<{ mibps: number; out: number }> {
  let fastest = Infinity;
  let out = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const start = performance.now();
    out = await pass(chunks);
    fastest = Math.min(fastest, performance.now() - start);
  }
  return { mibps: chunks.length / (fastest / 1000), out };
}

/** Runs `work` while a 0 ms timer re-arms itself: how many times it fired, and the longest gap. */
async function timerTurns<T>(work: () => Promise<T>): Promise<{ turns: number; gapMs: number }> {
  let turns = 0;
  let gapMs = 0;
  let last = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const tick = () => {
    const now = performance.now();
    gapMs = Math.max(gapMs, now - last);
    last = now;
    turns++;
    timer = setTimeout(tick, 0);
  };
  timer = setTimeout(tick, 0);
  await work();
  clearTimeout(timer);
  gapMs = Math.max(gapMs, performance.now() - last);
  return { turns, gapMs };
}

function compressAsync(chunk: Uint8Array, level: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) =>
    zstdCompress(
      chunk,
      options(level, chunk.length),
      (error, out) => error ? reject(error) : resolve(out),
    )
  );
}

const total = Number(Deno.args[0] ?? DEFAULT_MIB);
const kinds: [string, Uint8Array[]][] = [
  ["random", randomChunks(total)],
  ["text", textChunks(total)],
  ["json", jsonChunks(total)],
];
const row = (kind: string, what: string, mibps: number, extra = "") =>
  console.log(
    `${kind.padEnd(7)} ${what.padEnd(24)} ${mibps.toFixed(0).padStart(6)} MiB/s  ${extra}`,
  );
const ratio = (out: number, chunks: Uint8Array[]) =>
  `ratio ${(out / (chunks.length * MiB)).toFixed(3)}`;

console.log(`deno ${Deno.version.deno}, ${total} x 1 MiB chunks per kind, best of ${ROUNDS}`);
for (const [kind, chunks] of kinds) {
  const target = new Uint8Array(MiB);
  row(
    kind,
    "memcpy",
    (await best(chunks, (cs) => cs.reduce((n, c) => (target.set(c), n + c.length), 0))).mibps,
  );
  row(
    kind,
    "sha-256",
    (await best(
      chunks,
      (cs) => cs.reduce((n, c) => n + createHash("sha256").update(c).digest().length, 0),
    )).mibps,
  );
  for (const level of LEVELS) {
    const sync = await best(
      chunks,
      (cs) => cs.reduce((n, c) => n + zstdCompressSync(c, options(level, c.length)).length, 0),
    );
    row(kind, `zstd ${level} sync`, sync.mibps, ratio(sync.out, chunks));
    let fastest = Infinity;
    let out = 0;
    let turns = 0;
    let gapMs = 0;
    for (let round = 0; round < ROUNDS; round++) {
      out = 0;
      const start = performance.now();
      const loop = await timerTurns(async () => {
        for (const chunk of chunks) out += (await compressAsync(chunk, level)).length;
      });
      fastest = Math.min(fastest, performance.now() - start);
      turns += loop.turns;
      gapMs = Math.max(gapMs, loop.gapMs);
    }
    const mibps = chunks.length / (fastest / 1000);
    row(
      kind,
      `zstd ${level} callback`,
      mibps,
      `${ratio(out, chunks)}, timer turns ${turns}, longest gap ${gapMs.toFixed(1)} ms`,
    );
  }
  const encoded = chunks.map(encodeBlob);
  const policy = await best(
    chunks,
    (cs) => cs.reduce((n, c) => n + encodeBlob(c).stored.length, 0),
  );
  row(
    kind,
    "encodeBlob",
    policy.mibps,
    `${ratio(policy.out, chunks)}, ${
      encoded.filter((e) => e.compression === "zstd").length
    }/${chunks.length} compressed`,
  );
  if (encoded.every((e) => e.compression === "none")) {
    console.log(
      `${kind.padEnd(7)} decodeBlob               (stored raw: returned as it is, no work)`,
    );
  } else {
    const decoded = await best(
      chunks,
      () => encoded.reduce((n, e) => n + decodeBlob(e.stored, e.compression, MiB).length, 0),
    );
    row(kind, "decodeBlob", decoded.mibps);
  }
}
