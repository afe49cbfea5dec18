/**
 * One file's bytes into chunks: read into a slab of a shared pool (`chunk_slabs.ts`), cut with the
 * shared FastCDC chunker at its default sizes (so the ids match the chunks the server cut from v1
 * and v2 uploads), hash each chunk with SHA-256. A chunk is a view of the slab it was read into,
 * never a copy; the slab is reused once every chunk cut from it was released. Memory per reader:
 * one slab (4 MiB), whatever the file's size, plus the slabs its chunks in flight hold (bounded by
 * the pipeline's window).
 *
 * @module
 */
import { createHash } from "node:crypto";
import { Chunker } from "../../chunking/fastcdc.ts";
import type { BlobId } from "./blobs.ts";
import { type Slab, SlabPool } from "./chunk_slabs.ts";

/** Bytes asked of the file per read. */
export const READ_BYTES = 1024 * 1024;

/** What the chunker reads from: a `Deno.FsFile`, or a stream adapted by `streamReader`. */
export interface ByteReader {
  /** Fills `into` from the start with up to its length; `null` at the end. */
  read(into: Uint8Array): Promise<number | null>;
}

/**
 * Called for each chunk, in order. `bytes` is a view of a slab: it stays as it is until `release`
 * is called (call it once done with them; never calling it only keeps the slab from reuse).
 */
export type ChunkSink = (id: BlobId, bytes: Uint8Array, release: () => void) => Promise<void>;

/** The SHA-256 of `bytes` as a blob id. */
export function blobIdOf(bytes: Uint8Array): BlobId {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * Cuts streams into chunks read into reused slabs; one per concurrent reader.
 *
 * @example
 * ```ts
 * import { FileChunker, streamReader } from "./file_chunks.ts";
 * import assert from "node:assert/strict";
 * const chunker = new FileChunker();
 * const ids: string[] = [];
 * const stream = ReadableStream.from([new Uint8Array(10), new Uint8Array(5)]);
 * const { content, size } = await chunker.chunk(streamReader(stream), (id, _bytes, release) => {
 *   ids.push(id);
 *   release();
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
  readonly #pool: SlabPool;
  #slab: Slab | undefined;
  /** Where the next stream starts in the slab: what is before it was read already. */
  #next = 0;

  readonly #blobId: (raw: Uint8Array) => BlobId;

  /**
   * @param readBytes bytes asked per read (a test may make it small)
   * @param pool where slabs come from (the run's readers share one)
   * @param blobId names a chunk's bytes (the repository's ids)
   */
  constructor(
    readBytes = READ_BYTES,
    pool = new SlabPool(),
    blobId: (raw: Uint8Array) => BlobId = blobIdOf,
  ) {
    this.#readBytes = readBytes;
    this.#pool = pool;
    this.#blobId = blobId;
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
    // slab[start, filled) is the chunk being cut; `consumed` is its offset in the stream.
    let start = this.#next;
    let filled = this.#next;
    let consumed = 0;
    const emit = async (end: number) => {
      const slab = this.#slab!;
      const bytes = slab.bytes.subarray(start, start + end - consumed);
      start += bytes.length;
      consumed = end;
      const id = this.#blobId(bytes);
      content.push(id);
      await onChunk(id, bytes, slab.hold());
    };
    this.#chunker.finish(); // a new stream, even after a reader failed mid-file
    try {
      while (true) {
        if (!this.#slab || this.#slab.bytes.length - filled < this.#readBytes) {
          // The chunk being cut moves to the next slab: a copy of less than a chunk per slab.
          const carried = filled - start;
          const need = carried + this.#readBytes;
          // A chunk longer than a slab grows its one-off buffer by doubling: copies stay linear.
          const next = this.#pool.take(
            need > this.#pool.slabBytes
              ? Math.max(need, 2 * (this.#slab?.bytes.length ?? 0))
              : need,
          );
          if (this.#slab) {
            next.bytes.set(this.#slab.bytes.subarray(start, filled));
            this.#slab.retire();
          }
          this.#slab = next;
          start = 0;
          filled = carried;
        }
        const slab = this.#slab;
        const n = await reader.read(slab.bytes.subarray(filled, filled + this.#readBytes));
        if (n === null) break;
        if (n === 0) continue;
        const ends = this.#chunker.push(slab.bytes.subarray(filled, filled + n));
        filled += n;
        onRead?.(n);
        for (const end of ends) await emit(end);
      }
      const last = this.#chunker.finish();
      if (last !== undefined) await emit(last);
      return { content, size: consumed };
    } finally {
      this.#chunker.finish();
      this.#next = filled; // after a failure, the bytes of the chunk being cut are left behind
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
