import type { ByteSource } from "../io/byte_stream.ts";

/**
 * Joins byte arrays into one. For the test and load harnesses only: the product never gathers a payload
 * in memory.
 */
export function concatBytes(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** A source of `size` bytes that never touches the disk (the bytes are whatever the buffer holds). */
export function syntheticSource(size: number): ByteSource {
  let left = size;
  return {
    read(buffer) {
      if (left === 0) return Promise.resolve(null);
      const count = Math.min(left, buffer.length);
      left -= count;
      return Promise.resolve(count);
    },
  };
}
