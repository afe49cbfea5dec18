import { ConnectionLostError } from "./connection_errors.ts";
import type { ByteSource } from "./byte_stream.ts";

/** A stream that ended before a frame or payload was complete. */
export class UnexpectedEofError extends ConnectionLostError {
  /**
   * Builds the error.
   * @param expected what was being read, e.g. "request header"
   */
  constructor(expected: string, options?: ErrorOptions) {
    super(`connection closed in the middle of the ${expected}`, options);
  }
}

/** A frame parser: returns the parsed value and its length, or `undefined` until enough bytes are in. */
export type FrameParser<T> = (bytes: Uint8Array) => { byteLength: number } & T | undefined;

/**
 * A reader over a byte source with one fixed buffer, for parsing frames without copying.
 *
 * Bytes read ahead stay in the buffer for the next frame (pipelined requests). Payload bytes are handed
 * out by `readSome`, from the buffer first and then straight from the source into the caller's buffer.
 *
 * @example
 * ```ts
 * import { BufferedReader } from "./buffered_reader.ts";
 * import assert from "node:assert/strict";
 * const bytes = new Uint8Array([1, 2, 3]);
 * let sent = false;
 * const reader = new BufferedReader({
 *   read: (p) => Promise.resolve(sent ? null : (sent = true, p.set(bytes), bytes.length)),
 * }, 16);
 * await reader.fill();
 * assert.deepEqual(reader.buffered.length, 3);
 * ```
 */
export class BufferedReader {
  #source: ByteSource;
  #buffer: Uint8Array;
  #start = 0;
  #end = 0;

  /**
   * @param source where bytes come from
   * @param bufferSize the buffer's size: the largest frame it can hold
   */
  constructor(source: ByteSource, bufferSize: number) {
    this.#source = source;
    this.#buffer = new Uint8Array(bufferSize);
  }

  /** The bytes read and not yet consumed (a view; valid until the next read). */
  get buffered(): Uint8Array {
    return this.#buffer.subarray(this.#start, this.#end);
  }

  /** Marks `count` buffered bytes as used. */
  consume(count: number): void {
    this.#start += count;
    if (this.#start === this.#end) this.#start = this.#end = 0;
  }

  /**
   * Reads more bytes from the source into the buffer. Resolves `false` at the end of the source.
   *
   * @throws {RangeError} if the buffer is already full (a frame larger than the buffer).
   */
  async fill(): Promise<boolean> {
    if (this.#end === this.#buffer.length) {
      if (this.#start === 0) throw new RangeError("frame larger than the read buffer");
      this.#buffer.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    const count = await this.#source.read(this.#buffer.subarray(this.#end));
    if (count === null) return false;
    this.#end += count;
    return true;
  }

  /**
   * Reads one frame with `parse`. Resolves `null` if the source ends cleanly before its first byte.
   *
   * @param beforeRead called before each wait for bytes, with whether any byte of the frame is in
   *   (a server arms its idle or frame timeout there)
   * @throws {UnexpectedEofError} if the source ends inside the frame.
   */
  async readFrame<T>(
    parse: FrameParser<T>,
    what: string,
    beforeRead?: (started: boolean) => void,
  ): Promise<T | null> {
    while (true) {
      const parsed = parse(this.buffered);
      if (parsed) {
        this.consume(parsed.byteLength);
        return parsed;
      }
      const started = this.#end > this.#start;
      beforeRead?.(started);
      if (!await this.fill()) {
        if (!started) return null;
        throw new UnexpectedEofError(what);
      }
    }
  }

  /**
   * Hands out the next 1..`limit` bytes: buffered bytes first (a view into this reader's buffer),
   * else bytes read from the source into `scratch`. Never reads past `limit`, so bytes of the next
   * frame stay in the source.
   *
   * @throws {UnexpectedEofError} if the source ends first.
   */
  async readSome(limit: number, scratch: Uint8Array, what: string): Promise<Uint8Array> {
    if (this.#end > this.#start) {
      const count = Math.min(limit, this.#end - this.#start);
      const bytes = this.#buffer.subarray(this.#start, this.#start + count);
      this.consume(count);
      return bytes;
    }
    const count = await this.#source.read(scratch.subarray(0, Math.min(limit, scratch.length)));
    if (count === null) throw new UnexpectedEofError(what);
    return scratch.subarray(0, count);
  }
}
