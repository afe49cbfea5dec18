/**
 * Content-defined chunking: FastCDC (Xia et al., USENIX ATC 2016) with a 32-bit gear hash, cut-point
 * skipping and normalized chunking (level 1). The same bytes always give the same cut points,
 * however they are split into pushes, so the client and the server agree on chunks without talking.
 *
 * Pure: no `Deno.*`, no I/O, no imports. The cut points are part of the repository format: changing
 * the gear table, the masks or the default sizes changes every chunk id, so `tests/chunker_test.ts`
 * pins them with byte-exact vectors. The algorithm and its choices are in `docs/chunking.md`.
 *
 * @example Streaming: memory is bounded by the caller's buffer, never by the file
 * ```ts
 * import { Chunker } from "./fastcdc.ts";
 * import assert from "node:assert/strict";
 *
 * const chunker = new Chunker({ minSize: 64, averageSize: 256, maxSize: 1024 });
 * const ends: number[] = [];
 * const buffer = new Uint8Array(1000);
 * for (let round = 0; round < 10; round++) {
 *   buffer.fill(round); // stands in for a read into a reused buffer
 *   ends.push(...chunker.push(buffer));
 * }
 * const last = chunker.finish();
 * if (last !== undefined) ends.push(last);
 * assert.equal(ends.at(-1), 10_000);
 * ```
 *
 * @module
 */

const KiB = 1024;
const MiB = 1024 * KiB;

/** Default minimum chunk size (256 KiB): no cut is looked for before it. */
export const MIN_CHUNK_SIZE = 256 * KiB;
/** Default average (normal) chunk size (512 KiB): where the stricter mask gives way. */
export const AVERAGE_CHUNK_SIZE = 512 * KiB;
/** Default maximum chunk size (8 MiB, as restic's): a chunk is cut here if content never matched. */
export const MAX_CHUNK_SIZE = 8 * MiB;
/**
 * Default normalization level: the small-region mask has 1 bit more than log2(average), the large 1
 * fewer. Level 2 (until 2026-12-07) kept the cuts after an edit out of step with the old ones for
 * longer (`docs/chunking.md`).
 */
export const NORMALIZATION_LEVEL = 1;

/** Smallest average size the options accept (the large-region mask keeps at least 2 bits). */
export const MIN_AVERAGE_SIZE = 64;
/** Largest average size the options accept (the small-region mask fits the 32-bit hash). */
export const MAX_AVERAGE_SIZE = 256 * MiB;
/** Largest maximum size the options accept. */
export const MAX_MAXIMUM_SIZE = 1024 * MiB;
/** Largest normalization level the options accept (the FastCDC paper evaluates 1 to 3). */
export const MAX_NORMALIZATION_LEVEL = 3;

/**
 * Seed of the default gear table: the ASCII bytes "fastcdc1" read as a big-endian 64-bit integer.
 * Entry `k` of the table is the high 32 bits of the `k+1`-th SplitMix64 output from this seed.
 */
export const GEAR_SEED = 0x6661_7374_6364_6331n;

const HASH_BITS = 32;
const GEAR_ENTRIES = 256;
const U64 = (1n << 64n) - 1n;
const SPLITMIX_GAMMA = 0x9e37_79b9_7f4a_7c15n;
const SPLITMIX_MUL1 = 0xbf58_476d_1ce4_e5b9n;
const SPLITMIX_MUL2 = 0x94d0_49bb_1331_11ebn;
const SPLITMIX_SHIFT1 = 30n;
const SPLITMIX_SHIFT2 = 27n;
const SPLITMIX_SHIFT3 = 31n;

/**
 * The 256-entry gear table for a seed: the high 32 bits of successive SplitMix64 outputs, as signed
 * 32-bit integers (the hash is computed in int32 arithmetic).
 *
 * @example
 * ```ts
 * import { GEAR_SEED, gearTable } from "./fastcdc.ts";
 * import assert from "node:assert/strict";
 * assert.equal(gearTable(GEAR_SEED).length, 256);
 * ```
 */
export function gearTable(seed: bigint): Int32Array {
  const table = new Int32Array(GEAR_ENTRIES);
  let state = BigInt.asUintN(64, seed);
  for (let k = 0; k < GEAR_ENTRIES; k++) {
    state = (state + SPLITMIX_GAMMA) & U64;
    let z = state;
    z = ((z ^ (z >> SPLITMIX_SHIFT1)) * SPLITMIX_MUL1) & U64;
    z = ((z ^ (z >> SPLITMIX_SHIFT2)) * SPLITMIX_MUL2) & U64;
    z = z ^ (z >> SPLITMIX_SHIFT3);
    table[k] = Number(BigInt.asIntN(HASH_BITS, z >> 32n));
  }
  return table;
}

const DEFAULT_GEAR = gearTable(GEAR_SEED);

/** Sizes and seed of a {@linkcode Chunker}; every field is optional and defaults to the constants. */
export interface ChunkerOptions {
  /** Bytes at the start of a chunk that are never a cut point; integer, `1 <= minSize < averageSize`. */
  minSize?: number;
  /** Target size: a power of two from {@linkcode MIN_AVERAGE_SIZE} to {@linkcode MAX_AVERAGE_SIZE}. */
  averageSize?: number;
  /** A chunk is cut here at the latest; integer, `averageSize < maxSize <= MAX_MAXIMUM_SIZE`. */
  maxSize?: number;
  /** Normalized chunking level, an integer from 0 (plain FastCDC masks) to 3. */
  normalization?: number;
  /** Gear table seed; a different seed gives different cut points (a per-repository secret, say). */
  seed?: bigint;
}

/** The sizes a chunker runs with, after defaults and validation. */
export interface ChunkerSizes {
  /** See {@linkcode ChunkerOptions.minSize}. */
  readonly minSize: number;
  /** See {@linkcode ChunkerOptions.averageSize}. */
  readonly averageSize: number;
  /** See {@linkcode ChunkerOptions.maxSize}. */
  readonly maxSize: number;
  /** See {@linkcode ChunkerOptions.normalization}. */
  readonly normalization: number;
}

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && 2 ** Math.round(Math.log2(n)) === n;
}

/**
 * Applies defaults and checks the sizes.
 *
 * @throws {RangeError} when a size is not an integer, the average is not a power of two in range,
 * or the order `1 <= minSize < averageSize < maxSize <= MAX_MAXIMUM_SIZE` does not hold.
 */
export function resolveChunkerSizes(options: ChunkerOptions = {}): ChunkerSizes {
  const {
    minSize = MIN_CHUNK_SIZE,
    averageSize = AVERAGE_CHUNK_SIZE,
    maxSize = MAX_CHUNK_SIZE,
    normalization = NORMALIZATION_LEVEL,
  } = options;
  if (
    !isPowerOfTwo(averageSize) || averageSize < MIN_AVERAGE_SIZE || averageSize > MAX_AVERAGE_SIZE
  ) {
    throw new RangeError(
      `chunker averageSize must be a power of two from ${MIN_AVERAGE_SIZE} to ${MAX_AVERAGE_SIZE}, got ${averageSize}`,
    );
  }
  if (!Number.isInteger(minSize) || minSize < 1 || minSize >= averageSize) {
    throw new RangeError(
      `chunker minSize must be an integer from 1 to below averageSize (${averageSize}), got ${minSize}`,
    );
  }
  if (!Number.isInteger(maxSize) || maxSize <= averageSize || maxSize > MAX_MAXIMUM_SIZE) {
    throw new RangeError(
      `chunker maxSize must be an integer above averageSize (${averageSize}) and at most ${MAX_MAXIMUM_SIZE}, got ${maxSize}`,
    );
  }
  if (
    !Number.isInteger(normalization) || normalization < 0 ||
    normalization > MAX_NORMALIZATION_LEVEL
  ) {
    throw new RangeError(
      `chunker normalization must be an integer from 0 to ${MAX_NORMALIZATION_LEVEL}, got ${normalization}`,
    );
  }
  return { minSize, averageSize, maxSize, normalization };
}

/** A mask of the `bits` highest bits of the 32-bit hash: those depend on the most recent 32 bytes. */
function topBitsMask(bits: number): number {
  return bits === 0 ? 0 : (~0 << (HASH_BITS - bits)) | 0;
}

/**
 * A streaming content-defined chunker. Push the bytes of one stream in pieces of any size; each
 * push returns the stream offsets where chunks end. The state kept between pushes is the rolling
 * hash, how far into the current chunk the stream is, and the stream position: a few numbers.
 *
 * Chunk lengths: every chunk but the last is longer than `minSize` and at most `maxSize`; the
 * last (from {@linkcode Chunker.finish}) is any length from 1 to `maxSize`.
 *
 * @example
 * ```ts
 * import { Chunker } from "./fastcdc.ts";
 * import assert from "node:assert/strict";
 *
 * const chunker = new Chunker({ minSize: 64, averageSize: 256, maxSize: 1024 });
 * const zeros = new Uint8Array(2500);
 * assert.deepEqual(chunker.push(zeros), [1024, 2048]); // no content cut: cut at maxSize
 * assert.equal(chunker.finish(), 2500);
 * assert.equal(chunker.position, 0); // ready for the next stream
 * ```
 */
export class Chunker {
  /** The sizes this chunker cuts with. */
  readonly sizes: ChunkerSizes;
  readonly #gear: Int32Array;
  readonly #maskSmall: number;
  readonly #maskLarge: number;
  #hash = 0;
  #length = 0;
  #position = 0;

  /**
   * A chunker at the start of a stream.
   *
   * @throws {RangeError} for invalid sizes (see {@linkcode resolveChunkerSizes}).
   */
  constructor(options: ChunkerOptions = {}) {
    this.sizes = resolveChunkerSizes(options);
    this.#gear = options.seed === undefined ? DEFAULT_GEAR : gearTable(options.seed);
    const averageBits = Math.log2(this.sizes.averageSize);
    this.#maskSmall = topBitsMask(averageBits + this.sizes.normalization);
    this.#maskLarge = topBitsMask(averageBits - this.sizes.normalization);
  }

  /** Bytes pushed since the start of the stream (since construction or the last `finish`). */
  get position(): number {
    return this.#position;
  }

  /**
   * Feeds the next bytes of the stream. Returns the stream offsets (not offsets into `bytes`) where
   * chunks end within these bytes, ascending; subtract the `position` read before the push to slice
   * `bytes`. Does not keep a reference to `bytes`.
   */
  push(bytes: Uint8Array): number[] {
    const ends: number[] = [];
    const gear = this.#gear;
    const { minSize, averageSize, maxSize } = this.sizes;
    const maskSmall = this.#maskSmall;
    const maskLarge = this.#maskLarge;
    const base = this.#position;
    const n = bytes.length;
    let hash = this.#hash;
    let length = this.#length;
    let i = 0;
    while (i < n) {
      if (length < minSize) {
        // Cut-point skipping: bytes before minSize are neither hashed nor candidates.
        const skip = Math.min(minSize - length, n - i);
        length += skip;
        i += skip;
        continue;
      }
      let end = -1;
      let j = i;
      if (length < averageSize) {
        const stop = Math.min(n, i + averageSize - length);
        for (; j < stop; j++) {
          hash = ((hash << 1) + gear[bytes[j]]) | 0;
          if ((hash & maskSmall) === 0) {
            end = j + 1;
            break;
          }
        }
      } else {
        const stop = Math.min(n, i + maxSize - length);
        for (; j < stop; j++) {
          hash = ((hash << 1) + gear[bytes[j]]) | 0;
          if ((hash & maskLarge) === 0) {
            end = j + 1;
            break;
          }
        }
        if (end < 0 && length + (j - i) === maxSize) end = j;
      }
      if (end < 0) {
        length += j - i;
        i = j;
        continue;
      }
      ends.push(base + end);
      i = end;
      length = 0;
      hash = 0;
    }
    this.#hash = hash;
    this.#length = length;
    this.#position = base + n;
    return ends;
  }

  /**
   * Ends the stream: returns the end offset of the last chunk (the stream's length), or `undefined`
   * when the stream is empty or ended exactly at a cut. The chunker is then ready for a new stream.
   */
  finish(): number | undefined {
    const end = this.#length > 0 ? this.#position : undefined;
    this.#hash = 0;
    this.#length = 0;
    this.#position = 0;
    return end;
  }
}

/**
 * The end offsets of every chunk of a whole buffer, ascending; the last is `bytes.length` (none for
 * an empty buffer). The same as pushing the bytes through a {@linkcode Chunker} in any pieces.
 *
 * @throws {RangeError} for invalid sizes (see {@linkcode resolveChunkerSizes}).
 *
 * @example
 * ```ts
 * import { chunkBoundaries } from "./fastcdc.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(chunkBoundaries(new Uint8Array(0)), []);
 * assert.deepEqual(chunkBoundaries(new Uint8Array(10)), [10]);
 * ```
 */
export function chunkBoundaries(bytes: Uint8Array, options: ChunkerOptions = {}): number[] {
  const chunker = new Chunker(options);
  const ends = chunker.push(bytes);
  const last = chunker.finish();
  if (last !== undefined) ends.push(last);
  return ends;
}
