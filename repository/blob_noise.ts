/**
 * Whether a blob's bytes are noise (random, encrypted, already compressed) that zstd could not
 * shrink, told without zstd: its single bytes counted (entropy) and long repeats looked for. The
 * encoder (`blob_codec.ts`) asks before it compresses; the rules and their measurements are in its
 * module comment. Pure; the counters are reused (encoding is synchronous).
 *
 * @module
 */

/**
 * A sample with this many bits of entropy per byte (counted over single bytes) or more is noise:
 * coding single bytes could not get under 7.9 / 8 = 98.8% of its size, above `PAYS_RATIO`. Only
 * repeats of long strings inside the sample could still pay, which random, encrypted and
 * compressed data do not have.
 */
export const NOISE_BITS_PER_BYTE = 7.9;
/** How many pieces a sample takes, spread from the first byte to the last. */
export const SAMPLE_PIECES = 4;

/**
 * Whether a sample (pieces of a large blob) is noise: at {@linkcode NOISE_BITS_PER_BYTE} or more
 * of entropy and without repeats of long strings.
 */
export function sampleIsNoise(sample: Uint8Array): boolean {
  // `repeatsItself` reads the counts `entropyBitsPerByte` has just made.
  return entropyBitsPerByte(sample) >= NOISE_BITS_PER_BYTE && !repeatsItself(sample);
}

/**
 * Whether a blob under the sampling size is noise, told as a sample is: a backup of many small
 * random or compressed files would otherwise run zstd on every one. Up to
 * {@linkcode SMALL_SAMPLE_BYTES} bytes are counted (the whole blob, or pieces spread from its first
 * byte to its last), the count corrected for its size (Miller-Madow: a count of few bytes says
 * less than 8 bits per byte even for noise, 1 KiB of it about 7.8), and repeats are looked for in
 * the whole blob. Under {@linkcode SMALL_NOISE_FROM} bytes the count says too little, and zstd
 * decides.
 */
export function isNoise(raw: Uint8Array): boolean {
  if (raw.length < SMALL_NOISE_FROM) return false;
  counts.fill(0);
  if (raw.length <= SMALL_SAMPLE_BYTES) {
    countBytes(raw, 0, raw.length);
  } else {
    const piece = SMALL_SAMPLE_BYTES / SAMPLE_PIECES;
    const stride = Math.floor((raw.length - piece) / (SAMPLE_PIECES - 1));
    for (let at = 0; at < SAMPLE_PIECES; at++) countBytes(raw, at * stride, at * stride + piece);
  }
  const counted = Math.min(raw.length, SMALL_SAMPLE_BYTES);
  return entropyOfCounts(counted, true) >= NOISE_BITS_PER_BYTE && !repeatsItself(raw);
}

/** Blobs under this size are never taken for noise without zstd's word. */
const SMALL_NOISE_FROM = 1024;
/** Bytes of a small blob counted at most (`isNoise`). */
const SMALL_SAMPLE_BYTES = 4 * 1024;

/** Bytes after an anchor that are compared (longer than any repeat worth a zstd match). */
const ANCHOR_KEY_BYTES = 16;
/**
 * Bytes skipped after an anchor before the next is looked for (scanning is most of the cost). As
 * content-defined chunking's minimum size, it keeps the anchors in step across copies: once two
 * copies pick the same place, they pick the same ones after it.
 */
const SKIP = 512;
/** Slots of the table of anchors' keys: twice the most anchors a blob of 1 MiB can have. */
const KEY_SLOT_BITS = 12;
const KEY_SLOTS = 1 << KEY_SLOT_BITS;
/** The keys of the anchors seen, and which sample each slot's key is of (reused: synchronous). */
const keySlots = new Int32Array(KEY_SLOTS);
const keyStamps = new Uint32Array(KEY_SLOTS);
let keysStamp = 0;
/** The most frequent byte of the last counted sample (`entropyOfCounts`): the anchors' value. */
let mostFrequent = 0;

/**
 * Whether noise (a sample whose bytes `entropyBitsPerByte` has just counted) repeats itself: a
 * random page written over and over, copies of one compressed file in a tar. Counting single bytes
 * cannot see that; zstd's matches can. The places of the sample's most frequent byte (at least one
 * in 256: anchors that fall at the same place in every copy, whatever the copies' distance) are
 * named by the 16 bytes after them; if at least 1 in 32 names was met before, the sample is worth
 * a zstd try. Noise without repeats meets none (a false one is a zstd try: what c061cbe did).
 */
function repeatsItself(bytes: Uint8Array): boolean {
  const anchor = mostFrequent;
  if (++keysStamp === 0x1_0000_0000) {
    keyStamps.fill(0);
    keysStamp = 1;
  }
  let anchors = 0;
  let repeats = 0;
  const last = bytes.length - ANCHOR_KEY_BYTES;
  for (
    let at = bytes.indexOf(anchor);
    at !== -1 && at < last && anchors < KEY_SLOTS / 2;
    at = bytes.indexOf(anchor, at + SKIP)
  ) {
    let key = 0x811c9dc5; // FNV-1a
    for (let i = at + 1; i <= at + ANCHOR_KEY_BYTES; i++) {
      key = Math.imul(key ^ bytes[i], 0x01000193);
    }
    anchors++;
    if (seenBefore(key)) repeats++;
  }
  return repeats >= 4 && repeats * 32 >= anchors;
}

/**
 * Whether `key` was met before in this sample (else it is now): an open-addressing table of the
 * sample's keys, emptied by a new stamp rather than a clear (cheaper than a `Set` per blob).
 */
function seenBefore(key: number): boolean {
  let slot = Math.imul(key, 0x9e3779b1) >>> (32 - KEY_SLOT_BITS);
  while (true) {
    if (keyStamps[slot] !== keysStamp) {
      keyStamps[slot] = keysStamp;
      keySlots[slot] = key;
      return false;
    }
    if (keySlots[slot] === key) return true;
    slot = (slot + 1) & (KEY_SLOTS - 1);
  }
}

/**
 * Counts of each byte value, four tables side by side (reused: encoding is synchronous): bytes
 * that follow each other go to different tables, so that equal bytes do not wait on one counter
 * (three times faster than one table).
 */
const counts = new Uint32Array(4 * 256);

/**
 * The Shannon entropy of the bytes of `bytes` taken one at a time, in bits per byte: 8 for
 * uniform noise, 0 for one value repeated.
 *
 * @example
 * ```ts
 * import { entropyBitsPerByte } from "./blob_noise.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(entropyBitsPerByte(new Uint8Array([1, 2, 3, 4])), 2);
 * assert.equal(entropyBitsPerByte(new Uint8Array(10)), 0);
 * ```
 */
export function entropyBitsPerByte(bytes: Uint8Array): number {
  counts.fill(0);
  countBytes(bytes, 0, bytes.length);
  return entropyOfCounts(bytes.length, false);
}

/** Adds the bytes of `bytes` from `from` to `to` to `counts`. */
function countBytes(bytes: Uint8Array, from: number, to: number): void {
  const whole = from + ((to - from) & ~3);
  let i = from;
  for (; i < whole; i += 4) {
    counts[bytes[i]]++;
    counts[256 + bytes[i + 1]]++;
    counts[512 + bytes[i + 2]]++;
    counts[768 + bytes[i + 3]]++;
  }
  for (; i < to; i++) counts[bytes[i]]++;
}

/**
 * The entropy in bits per byte of the `total` bytes in `counts`; `corrected` adds Miller and
 * Madow's correction of a count's bias, (values seen - 1) / (2 × total × ln 2). As (t·log2(t) -
 * Σ c·log2(c)) / t, with c·log2(c) from a table: 256 calls of `Math.log2` cost more than
 * counting a small blob's bytes.
 */
function entropyOfCounts(total: number, corrected: boolean): number {
  mostFrequent = 0;
  if (total === 0) return 0;
  let sum = 0;
  let seen = 0;
  let most = 0;
  for (let value = 0; value < 256; value++) {
    const count = counts[value] + counts[256 + value] + counts[512 + value] + counts[768 + value];
    if (count > 0) {
      sum += count < COUNT_LOG_COUNT.length ? COUNT_LOG_COUNT[count] : count * Math.log2(count);
      seen++;
      if (count > most) [mostFrequent, most] = [value, count];
    }
  }
  const bits = (total * Math.log2(total) - sum) / total;
  return bits + (corrected ? (seen - 1) / (2 * total * Math.LN2) : 0);
}

/** c·log2(c) for the counts of a small blob's sample (at most `SMALL_SAMPLE_BYTES`). */
const COUNT_LOG_COUNT = new Float64Array(SMALL_SAMPLE_BYTES + 1)
  .map((_, count) => count === 0 ? 0 : count * Math.log2(count));
