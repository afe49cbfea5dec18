/**
 * What `check` keeps of ids: a set of 32-byte blob ids packed in one array (no string per id),
 * holding at most a set number (so memory is bounded by a setting, not by the repository), and
 * the choice of which data blobs `--read-data-subset` reads (restic's `n/t` and `N%`).
 *
 * @module
 */
import { BackupError } from "../../common/backup_error.ts";
import type { BlobId } from "./blobs.ts";

const ID_BYTES = 32;
const MIN_SLOTS = 1024;

/**
 * A set of 32-byte ids (open addressing over one `Uint8Array`, 32 bytes a slot, at most half the
 * slots used): at most `maxIds` ids, so at most `64 × maxIds` bytes once grown whole. Once full,
 * `add` remembers nothing more and answers "new" for an id it does not hold: a caller then does
 * again what it did for the id (reads a tree again, asks again), which is slower, never wrong.
 *
 * @example
 * ```ts
 * import { BoundedIdSet } from "./check_ids.ts";
 * import assert from "node:assert/strict";
 * const set = new BoundedIdSet(2);
 * assert.ok(set.add("aa".repeat(32)));
 * assert.ok(!set.add("aa".repeat(32)));
 * assert.ok(set.add("bb".repeat(32)));
 * assert.ok(set.add("cc".repeat(32))); // full: not remembered, answered as new
 * assert.ok(set.full && !set.has("cc".repeat(32)));
 * ```
 */
export class BoundedIdSet {
  readonly #maxIds: number;
  readonly #salt = (Math.random() * 0x1_0000_0000) >>> 0;
  #slots = new Uint8Array(MIN_SLOTS * ID_BYTES);
  #mask = MIN_SLOTS - 1;
  #count = 0;
  /** The all-zero id, which marks an empty slot, is kept aside. */
  #hasZero = false;
  #full = false;

  /** @param maxIds the most ids held (at least 1) */
  constructor(maxIds: number) {
    if (!Number.isSafeInteger(maxIds) || maxIds < 1) {
      throw new RangeError(`maxIds must be a whole number of at least 1, got ${maxIds}`);
    }
    this.#maxIds = maxIds;
  }

  /** Ids held. */
  get size(): number {
    return this.#count + (this.#hasZero ? 1 : 0);
  }

  /** True once an id was turned away for want of room. */
  get full(): boolean {
    return this.#full;
  }

  /** Whether `id` is held. */
  has(id: BlobId): boolean {
    const bytes = Uint8Array.fromHex(id);
    if (isZero(bytes)) return this.#hasZero;
    return this.#find(bytes) >= 0;
  }

  /** Adds `id`; false if it was held already, true if it is new (or could not be held). */
  add(id: BlobId): boolean {
    const bytes = Uint8Array.fromHex(id);
    if (bytes.length !== ID_BYTES) throw new RangeError(`not a 32-byte id: ${id}`);
    if (isZero(bytes)) {
      if (this.#hasZero) return false;
      if (this.size >= this.#maxIds) return this.#turnAway();
      this.#hasZero = true;
      return true;
    }
    const at = this.#find(bytes);
    if (at >= 0) return false;
    if (this.size >= this.#maxIds) return this.#turnAway();
    if ((this.#count + 1) * 2 > this.#mask + 1) this.#grow();
    this.#slots.set(bytes, this.#slotFor(bytes) * ID_BYTES);
    this.#count++;
    return true;
  }

  #turnAway(): boolean {
    this.#full = true;
    return true;
  }

  /** The slot holding `id`, or -1. */
  #find(id: Uint8Array): number {
    for (let slot = this.#hash(id) & this.#mask;; slot = (slot + 1) & this.#mask) {
      const at = slot * ID_BYTES;
      if (isZero(this.#slots.subarray(at, at + ID_BYTES))) return -1;
      if (sameId(this.#slots, at, id)) return slot;
    }
  }

  /** The first empty slot on `id`'s probe sequence. */
  #slotFor(id: Uint8Array): number {
    for (let slot = this.#hash(id) & this.#mask;; slot = (slot + 1) & this.#mask) {
      const at = slot * ID_BYTES;
      if (isZero(this.#slots.subarray(at, at + ID_BYTES))) return slot;
    }
  }

  #grow(): void {
    const old = this.#slots;
    this.#slots = new Uint8Array(old.length * 2);
    this.#mask = this.#slots.length / ID_BYTES - 1;
    for (let at = 0; at < old.length; at += ID_BYTES) {
      const id = old.subarray(at, at + ID_BYTES);
      if (!isZero(id)) this.#slots.set(id, this.#slotFor(id) * ID_BYTES);
    }
  }

  /** Ids are SHA-256 (uniform), but a hostile server chooses the trees: mixed with a salt. */
  #hash(id: Uint8Array): number {
    const a = (id[0] | id[1] << 8 | id[2] << 16 | id[3] << 24) ^ this.#salt;
    const b = id[4] | id[5] << 8 | id[6] << 16 | id[7] << 24;
    return (Math.imul(a, 0x9e3779b1) ^ Math.imul(b ^ (a >>> 15), 0x85ebca77)) >>> 0;
  }
}

function isZero(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

function sameId(slots: Uint8Array, at: number, id: Uint8Array): boolean {
  for (let i = 0; i < ID_BYTES; i++) if (slots[at + i] !== id[i]) return false;
  return true;
}

/** A `--read-data-subset` that is neither `n/t` nor `N%`. */
export class SubsetSpecError extends BackupError {}

/** The most parts `n/t` may split the ids into. */
export const MAX_SUBSET_PARTS = 65536;

const ID_PREFIX_RANGE = 0x1_0000_0000;

/**
 * Which data blobs a `--read-data-subset` reads, by the first 4 bytes of the id: `n/t` is the
 * n-th of t equal ranges of ids (so `1/t` … `t/t` together read every blob once, as restic's), `N%`
 * a range of N% of the ids starting at a random place (another part at each run; `100%` is all).
 *
 * @throws {SubsetSpecError} for anything else (`0/3`, `4/3`, `0%`, `101%`, `x`).
 * @example
 * ```ts
 * import { subsetOf } from "./check_ids.ts";
 * import assert from "node:assert/strict";
 * const first = subsetOf("1/2");
 * const second = subsetOf("2/2");
 * for (const id of ["00".repeat(32), "7f".repeat(32), "80".repeat(32), "ff".repeat(32)]) {
 *   assert.notEqual(first(id), second(id)); // each id in exactly one part
 * }
 * assert.ok(subsetOf("100%")("12".repeat(32)));
 * ```
 */
export function subsetOf(
  spec: string,
  random: () => number = Math.random,
): (id: BlobId) => boolean {
  const part = /^(\d{1,6})\/(\d{1,6})$/.exec(spec);
  if (part) {
    const n = Number(part[1]);
    const t = Number(part[2]);
    if (t < 1 || t > MAX_SUBSET_PARTS || n < 1 || n > t) {
      throw new SubsetSpecError(
        `--read-data-subset ${spec}: n/t needs 1 <= n <= t <= ${MAX_SUBSET_PARTS}`,
      );
    }
    return (id) => Math.floor(idPrefix(id) * t / ID_PREFIX_RANGE) === n - 1;
  }
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(spec);
  if (percent) {
    const share = Number(percent[1]) / 100;
    if (!(share > 0 && share <= 1)) {
      throw new SubsetSpecError(`--read-data-subset ${spec}: N% needs 0 < N <= 100`);
    }
    if (share === 1) return () => true;
    const width = share * ID_PREFIX_RANGE;
    const start = Math.floor(random() * ID_PREFIX_RANGE);
    return (id) => (idPrefix(id) - start + ID_PREFIX_RANGE) % ID_PREFIX_RANGE < width;
  }
  throw new SubsetSpecError(`--read-data-subset ${spec}: give n/t (as 2/5) or N% (as 10%)`);
}

/** The first 4 bytes of a hex id, as a number. */
function idPrefix(id: BlobId): number {
  return parseInt(id.slice(0, 8), 16);
}
