/**
 * One file's bytes into chunks: read through a reused buffer, cut with the shared FastCDC chunker
 * at its default sizes (so the ids match the chunks the server cut from v1 and v2 uploads), hash
 * each chunk with SHA-256. Memory per reader: one buffer that grows to at most the largest chunk
 * plus one read (8 MiB + 1 MiB with the defaults), whatever the file's size.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { Chunker } from "../../chunking/fastcdc.ts";
import type { BlobId } from "./blobs.ts";

/** Bytes asked of the file per read. */
export const READ_BYTES = 1024 * 1024;

/** What the chunker reads from: a `Deno.FsFile`, or a stream adapted by `streamReader`. */
export interface ByteReader {
  /** Fills `into` from the start with up to its length; `null` at the end. */
  read(into: Uint8Array): Promise<number | null>;
}

/** Called for each chunk, in order; the bytes are the chunk's own (kept by the callee). */
export type ChunkSink = (id: BlobId, bytes: Uint8Array) => Promise<void>;

/** The SHA-256 of `bytes` as a blob id. */
export function blobIdOf(bytes: Uint8Array): BlobId {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * Cuts streams into chunks with one reused buffer; one per concurrent reader.
 *
 * @example
 * ```ts
 * import { FileChunker, streamReader } from "./file_chunks.ts";
 * import assert from "node:assert/strict";
 * const chunker = new FileChunker();
 * const ids: string[] = [];
 * const stream = ReadableStream.from([new Uint8Array(10), new Uint8Array(5)]);
 * const { content, size } = await chunker.chunk(streamReader(stream), (id) => {
 *   ids.push(id);
 *   return Promise.resolve();
 * });
 * assert.equal(size, 15);
 * assert.deepEqual(content, ids);
 * assert.equal(content.length, 1);
 * ```
 */
export class FileChunker {
  readonly #chunker = new Chunker();
  readonly #readBytes: number;
  #buffer: Uint8Array;

  /** @param readBytes bytes asked per read (a test may make it small) */
  constructor(readBytes = READ_BYTES) {
    this.#readBytes = readBytes;
    this.#buffer = new Uint8Array(2 * readBytes);
  }

  /**
   * Reads `reader` to its end, handing each chunk to `onChunk` (awaited: it may hold the reading
   * back). Returns the chunk ids in order and the bytes read.
   *
   * @throws what `reader` or `onChunk` throws.
   */
  async chunk(
    reader: ByteReader,
    onChunk: ChunkSink,
    onRead?: (bytes: number) => void,
  ): Promise<{ content: BlobId[]; size: number }> {
    const content: BlobId[] = [];
    // buffer[start, filled) is the chunk being cut; `consumed` is its offset in the stream.
    let start = 0;
    let filled = 0;
    let consumed = 0;
    const emit = async (end: number) => {
      const bytes = this.#buffer.slice(start, start + end - consumed);
      start += bytes.length;
      consumed = end;
      const id = blobIdOf(bytes);
      content.push(id);
      await onChunk(id, bytes);
    };
    this.#chunker.finish(); // a new stream, even after a reader failed mid-file
    try {
      while (true) {
        if (this.#buffer.length - filled < this.#readBytes) {
          this.#buffer.copyWithin(0, start, filled);
          filled -= start;
          start = 0;
          if (this.#buffer.length - filled < this.#readBytes) {
            const grown = new Uint8Array(
              Math.max(2 * this.#buffer.length, filled + this.#readBytes),
            );
            grown.set(this.#buffer.subarray(0, filled));
            this.#buffer = grown;
          }
        }
        const n = await reader.read(this.#buffer.subarray(filled, filled + this.#readBytes));
        if (n === null) break;
        if (n === 0) continue;
        const ends = this.#chunker.push(this.#buffer.subarray(filled, filled + n));
        filled += n;
        onRead?.(n);
        for (const end of ends) await emit(end);
      }
      const last = this.#chunker.finish();
      if (last !== undefined) await emit(last);
      return { content, size: consumed };
    } finally {
      this.#chunker.finish();
      // A file with a chunk of 8 MiB grew the buffer; do not keep that past the file.
      if (this.#buffer.length > 4 * this.#readBytes) {
        this.#buffer = new Uint8Array(2 * this.#readBytes);
      }
    }
  }
}

/** A `ByteReader` over a stream (standard input): each read takes what the stream has. */
export function streamReader(stream: ReadableStream<Uint8Array>): ByteReader & { cancel(): void } {
  const reader = stream.getReader();
  let current: Uint8Array | undefined;
  return {
    async read(into: Uint8Array): Promise<number | null> {
      while (!current || current.length === 0) {
        const { value, done } = await reader.read();
        if (done) return null;
        current = value;
      }
      const n = Math.min(into.length, current.length);
      into.set(current.subarray(0, n));
      current = current.subarray(n);
      return n;
    },
    cancel(): void {
      reader.cancel().catch(() => {});
    },
  };
}
