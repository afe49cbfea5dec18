import type { ByteSource } from "./byte_stream.ts";

/**
 * Reads from `source` until `target` is full or the source ends. Resolves how many bytes came: fewer
 * than `target.length` only at the end of the source.
 */
export async function readFull(source: ByteSource, target: Uint8Array): Promise<number> {
  let filled = 0;
  while (filled < target.length) {
    const count = await source.read(target.subarray(filled));
    if (count === null) break;
    filled += count;
  }
  return filled;
}

/**
 * Moves chunks from a producer to a consumer through two buffers: the next chunk is produced into one
 * buffer while the previous chunk is consumed from the other, so that (say) the network and the disk
 * work at the same time instead of taking turns. With one buffer (a payload that fits it), the two
 * take turns.
 *
 * `next` fills the buffer it is given (or returns bytes it already holds) and resolves the chunk to pass
 * on, or `null` when there is no more. `write` consumes a chunk. Writes run one at a time, in order, and
 * a buffer is handed to `next` again only after the write from it has finished. If either side fails,
 * the write in flight is waited for and the error is thrown.
 */
export async function relay(
  buffers: readonly [Uint8Array] | readonly [Uint8Array, Uint8Array],
  next: (buffer: Uint8Array) => Promise<Uint8Array | null>,
  write: (chunk: Uint8Array) => Promise<void>,
): Promise<void> {
  let writing: Promise<void> = Promise.resolve();
  try {
    for (let turn = 0;; turn = (turn + 1) % buffers.length) {
      if (buffers.length === 1) await writing; // the only buffer must be written out before reuse
      const chunk = await next(buffers[turn]);
      if (chunk === null) break;
      await writing;
      writing = write(chunk);
      writing.catch(() => {}); // awaited on the next turn or below; must not go unhandled meanwhile
    }
    await writing;
  } catch (error) {
    await writing.catch(() => {});
    throw error;
  }
}

/**
 * A `relay` producer for a frame whose header is already at the start of the first buffer it is
 * given (`headLength` bytes), followed by `size` payload bytes read from `source`: the first chunk is
 * the header and as much payload as fits, so that both leave in one write; every later chunk is a
 * buffer's worth of payload. A source that ends early fails with the error `ended(missing)` returns.
 */
export function headerThenPayload(
  source: ByteSource,
  size: number,
  headLength: number,
  ended: (missing: number) => Error,
): (buffer: Uint8Array) => Promise<Uint8Array | null> {
  let remaining = size;
  let offset = headLength; // the first buffer starts with the header
  return async (buffer) => {
    if (remaining === 0 && offset === 0) return null;
    const want = Math.min(remaining, buffer.length - offset);
    const count = await readFull(source, buffer.subarray(offset, offset + want));
    if (count < want) throw ended(remaining - count);
    remaining -= count;
    const chunk = buffer.subarray(0, offset + count);
    offset = 0;
    return chunk;
  };
}
