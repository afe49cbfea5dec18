/**
 * Reading and writing the little-endian fields of version 2 frames. Internal to the codec.
 *
 * @module
 */
import { MAX_NAME_BYTES } from "../constants.ts";
import { ProtocolError } from "../errors.ts";
import {
  MAX_MODE,
  MAX_TIME_MS,
  MODE_REGULAR_FILE,
  MODE_SYMLINK,
  MODE_TYPE_MASK,
  NO_MODE,
} from "./constants.ts";

/** Signals that a frame is not complete yet; caught by the parsers, which then return undefined. */
export class Incomplete {}
const INCOMPLETE = new Incomplete();

/** Reads fields from the front of a buffer; throws `Incomplete` when the bytes run out. */
export class FieldReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  /** Bytes read so far. */
  offset = 0;

  /** @param bytes the buffer, starting at the frame's first byte */
  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  #take(size: number): number {
    if (this.offset + size > this.#bytes.length) throw INCOMPLETE;
    const at = this.offset;
    this.offset += size;
    return at;
  }

  /** One byte. */
  u8(): number {
    return this.#bytes[this.#take(1)];
  }

  /** A 16-bit unsigned integer. */
  u16(): number {
    return this.#view.getUint16(this.#take(2), true);
  }

  /** A 32-bit unsigned integer. */
  u32(): number {
    return this.#view.getUint32(this.#take(4), true);
  }

  /** A 64-bit unsigned integer that must fit a JavaScript number exactly. */
  u64(what: string): number {
    const value = this.#view.getBigUint64(this.#take(8), true);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new ProtocolError(`${what} ${value} too large`);
    }
    return Number(value);
  }

  /** A signed time in milliseconds since the epoch, within a `Date`'s range. */
  timeMs(what: string): number {
    const value = Number(this.#view.getBigInt64(this.#take(8), true));
    if (Math.abs(value) > MAX_TIME_MS) throw new ProtocolError(`${what} ${value} out of range`);
    return value;
  }

  /** Mode bits, or `null` for none. */
  mode(): number | null {
    const value = this.u32();
    if (value === NO_MODE) return null;
    const type = value & MODE_TYPE_MASK;
    const known = type === 0 || type === MODE_REGULAR_FILE || type === MODE_SYMLINK;
    if (!known || (value & ~(MODE_TYPE_MASK | MAX_MODE)) !== 0) {
      throw new ProtocolError(`mode ${value.toString(8)}: not a file's or a link's mode`);
    }
    return value;
  }

  /** `size` raw bytes (a view). */
  bytes(size: number): Uint8Array {
    const at = this.#take(size);
    return this.#bytes.subarray(at, at + size);
  }

  /** A 2-byte length then that many bytes, the length checked against `max` before waiting. */
  lengthPrefixed(max = MAX_NAME_BYTES, what = "name"): Uint8Array {
    const length = this.u16();
    if (length > max) throw new ProtocolError(`${what} length ${length}, at most ${max}`);
    return this.bytes(length);
  }
}

/** Runs a parser over `bytes`; `undefined` while the frame is incomplete. */
export function parseWith<T>(
  bytes: Uint8Array,
  parse: (reader: FieldReader) => T,
): (T & { byteLength: number }) | undefined {
  const reader = new FieldReader(bytes);
  try {
    const value = parse(reader);
    return { ...value, byteLength: reader.offset };
  } catch (error) {
    if (error instanceof Incomplete) return undefined;
    throw error;
  }
}

/** Writes fields into a new buffer of a known size. */
export class FieldWriter {
  /** The frame. */
  readonly bytes: Uint8Array;
  readonly #view: DataView;
  #offset = 0;

  /** @param size the frame's exact size */
  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.#view = new DataView(this.bytes.buffer);
  }

  /** One byte. */
  u8(value: number): this {
    this.bytes[this.#offset++] = value;
    return this;
  }

  /** A 16-bit unsigned integer. */
  u16(value: number): this {
    this.#view.setUint16(this.#offset, value, true);
    this.#offset += 2;
    return this;
  }

  /** A 32-bit unsigned integer. */
  u32(value: number): this {
    this.#view.setUint32(this.#offset, value, true);
    this.#offset += 4;
    return this;
  }

  /** A 64-bit unsigned integer (a safe integer). */
  u64(value: number): this {
    this.#view.setBigUint64(this.#offset, BigInt(value), true);
    this.#offset += 8;
    return this;
  }

  /** A signed 64-bit time in milliseconds. */
  timeMs(value: number): this {
    this.#view.setBigInt64(this.#offset, BigInt(Math.trunc(value)), true);
    this.#offset += 8;
    return this;
  }

  /** Mode bits, or `null` for none. */
  mode(value: number | null): this {
    return this.u32(value ?? NO_MODE);
  }

  /** Raw bytes. */
  raw(bytes: Uint8Array): this {
    this.bytes.set(bytes, this.#offset);
    this.#offset += bytes.length;
    return this;
  }

  /** A 2-byte length then the bytes. */
  lengthPrefixed(bytes: Uint8Array): this {
    return this.u16(bytes.length).raw(bytes);
  }
}

/** Throws a RangeError unless `value` is a safe integer in `0..max`. */
export function checkRange(what: string, value: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < 0 || value > max) {
    throw new RangeError(`${what} must be an integer in 0..${max}, got ${value}`);
  }
}
