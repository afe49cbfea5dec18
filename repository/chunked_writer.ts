/**
 * Cuts a stream of bytes into content-defined chunks (`chunking/fastcdc.ts`), names each by the
 * SHA-256 of its bytes, and stores only the chunks the repository lacks: those go, compressed when
 * it pays, into packs (`PackWriter`). What it gives at the end is the file's list of chunk ids, in
 * order, and the packs it wrote; the caller indexes both in one commit.
 *
 * Memory: one chunk being cut (a buffer from 1 MiB that doubles as a chunk needs, to the chunker's
 * maximum, 8 MiB, or the file's size if smaller), up to three chunks being hashed (`ChunkHasher`),
 * what the pack writer holds (nothing on a folder: `PackWriter`), and 32 bytes per chunk of the
 * file for the list.
 *
 * @module
 */
import { Chunker, type ChunkerOptions, resolveChunkerSizes } from "../chunking/fastcdc.ts";
import { toHex } from "../common/hex.ts";
import type { EncodedBlob } from "./blob_codec.ts";
import type { PackWriter, WrittenPack } from "./pack_writer.ts";
import { type ChunkHasher, type HashedChunk, INLINE_HASHER } from "./chunk_hasher.ts";

/** Chunks hashed ahead of the one being stored: the hasher works while the event loop does. */
const HASHING_AHEAD = 2;

/** The chunk buffer's first size; it doubles up to the chunker's maximum as chunks need. */
const INITIAL_BUFFER_BYTES = 1024 * 1024;

/** Bytes of a chunk id (SHA-256). */
export const CHUNK_ID_BYTES = 32;

/** What a `ChunkedWriter` asks of the repository and works with. */
export interface ChunkedWriterOptions {
  /** Declared size of the stream: the chunk buffer is never larger. */
  size: number;
  /** Where new chunks go. */
  packs: PackWriter;
  /**
   * True if the repository holds a chunk with this id for this writer's user and will keep it until
   * the writer's commit (the repository pins it), so it need not be stored again.
   */
  holds(id: Uint8Array): boolean;
  /**
   * Compresses a chunk when it pays: gives `raw` itself, or bytes of its own (never a view of
   * `raw`: its buffer is reused once the chunk is stored).
   */
  encode(raw: Uint8Array): EncodedBlob;
  /** The chunker's sizes; default: the repository's (`chunking/fastcdc.ts`). */
  chunker?: ChunkerOptions;
  /** Hashes chunks off the event loop; default: inline. */
  hasher?: ChunkHasher;
}

/** What a finished `ChunkedWriter` gives. */
export interface ChunkedFile {
  /** The chunk ids in file order, 32 bytes each. */
  ids: Uint8Array;
  /** How many chunks (ids.length / 32). */
  count: number;
  /** The packs written, with the new chunks in them. */
  packs: WrittenPack[];
  /** Stored bytes of the new chunks (after compression). */
  newStoredBytes: number;
}

/** One stream's chunking and storing; see the module comment. */
export class ChunkedWriter {
  readonly #options: ChunkedWriterOptions;
  readonly #chunker: Chunker;
  /** Grows (doubling) as a chunk needs it, up to `#bufferLimit`: a stalled upload holds little. */
  #buffer: Uint8Array;
  readonly #bufferLimit: number;
  /** Where the buffer's first byte is in the stream. */
  #bufferStart = 0;
  #filled = 0;
  #ids = new Uint8Array(CHUNK_ID_BYTES * 16);
  #count = 0;
  /** Ids this writer stored itself, hex: a chunk met twice in one file is stored once. */
  readonly #storedHere = new Set<string>();
  #newStoredBytes = 0;
  /** Buffers of chunks done with, reused by the next ones (fewer copies left to the collector). */
  readonly #spare = new SpareBuffers();
  /** Chunks being hashed, in file order: stored once their ids are known, oldest first. */
  readonly #hashing: Promise<HashedChunk>[] = [];

  /** @param options see `ChunkedWriterOptions` */
  constructor(options: ChunkedWriterOptions) {
    this.#options = options;
    this.#chunker = new Chunker(options.chunker);
    const { maxSize } = resolveChunkerSizes(options.chunker);
    this.#bufferLimit = Math.max(1, Math.min(options.size, maxSize));
    this.#buffer = new Uint8Array(Math.min(this.#bufferLimit, INITIAL_BUFFER_BYTES));
  }

  /** Stored bytes of the new chunks so far. */
  get newStoredBytes(): number {
    return this.#newStoredBytes;
  }

  /** Takes the next bytes (copied: the caller may reuse them once this resolves). */
  async write(bytes: Uint8Array): Promise<void> {
    let taken = 0;
    while (taken < bytes.length) {
      if (this.#filled === this.#buffer.length) this.#grow();
      const room = this.#buffer.length - this.#filled;
      const piece = bytes.subarray(taken, taken + room);
      this.#buffer.set(piece, this.#filled);
      this.#filled += piece.length;
      taken += piece.length;
      for (const end of this.#chunker.push(piece)) await this.#chunkEndingAt(end);
    }
  }

  /**
   * Stores the last chunk and puts the last pack.
   *
   * @throws what storing threw (`abort` removes the packs written).
   */
  async finish(): Promise<ChunkedFile> {
    const end = this.#chunker.finish();
    if (end !== undefined) await this.#chunkEndingAt(end);
    while (this.#hashing.length > 0) await this.#storeOldest();
    const packs = await this.#options.packs.finish();
    return {
      ids: this.#ids.subarray(0, this.#count * CHUNK_ID_BYTES),
      count: this.#count,
      packs,
      newStoredBytes: this.#newStoredBytes,
    };
  }

  /** Removes the packs written. */
  async abort(): Promise<void> {
    await Promise.allSettled(this.#hashing.splice(0));
    await this.#options.packs.abort();
  }

  /**
   * Hands the chunk from the buffer's start to stream offset `end` to the hasher (a copy), moves
   * the rest down, and stores the oldest chunks hashed while more than `HASHING_AHEAD` wait.
   */
  async #chunkEndingAt(end: number): Promise<void> {
    const length = end - this.#bufferStart;
    const copy = this.#spare.take(length);
    copy.set(this.#buffer.subarray(0, length));
    const hashing = (this.#options.hasher ?? INLINE_HASHER).hash(copy);
    hashing.catch(() => {}); // awaited in turn by #storeOldest
    this.#hashing.push(hashing);
    this.#buffer.copyWithin(0, length, this.#filled);
    this.#filled -= length;
    this.#bufferStart = end;
    while (this.#hashing.length > HASHING_AHEAD) await this.#storeOldest();
  }

  /** Stores the oldest chunk being hashed, unless the user has it; adds its id to the list. */
  async #storeOldest(): Promise<void> {
    const { id, bytes } = await this.#hashing.shift()!;
    const key = toHex(id);
    if (!this.#storedHere.has(key) && !this.#options.holds(id)) {
      const encoded = this.#options.encode(bytes);
      // Stored as it is, the chunk's buffer comes back once the pack writer has written it.
      const raw = encoded.stored === bytes;
      await this.#options.packs.add(
        id,
        encoded,
        bytes.length,
        raw ? () => this.#spare.give(bytes) : undefined,
      );
      if (!raw) this.#spare.give(bytes);
      this.#storedHere.add(key);
      this.#newStoredBytes += encoded.stored.length;
    } else {
      this.#spare.give(bytes);
    }
    this.#push(id);
  }

  #grow(): void {
    if (this.#buffer.length === this.#bufferLimit) {
      throw new RangeError("more bytes than the chunk buffer holds");
    }
    const grown = new Uint8Array(Math.min(this.#bufferLimit, this.#buffer.length * 2));
    grown.set(this.#buffer.subarray(0, this.#filled));
    this.#buffer = grown;
  }

  #push(id: Uint8Array): void {
    const at = this.#count * CHUNK_ID_BYTES;
    if (at + CHUNK_ID_BYTES > this.#ids.length) {
      const grown = new Uint8Array(this.#ids.length * 2);
      grown.set(this.#ids);
      this.#ids = grown;
    }
    this.#ids.set(id, at);
    this.#count++;
  }
}

/**
 * Chunk buffers kept for reuse, by capacity (powers of two from 64 KiB), at most `SPARE_BYTES` in
 * all: a buffer given back is taken again by a later chunk of about its size, so an upload
 * allocates a few buffers rather than one per chunk, and leaves little for the garbage collector.
 * Every buffer here was made by `take`: nothing else holds it, so it may move to a worker.
 */
class SpareBuffers {
  readonly #free = new Map<number, ArrayBuffer[]>();
  #bytes = 0;

  /** A view of `length` bytes at the start of a spare buffer, or of a new one. */
  take(length: number): Uint8Array {
    const capacity = capacityFor(length);
    const buffer = this.#free.get(capacity)?.pop();
    if (buffer) {
      this.#bytes -= capacity;
      return new Uint8Array(buffer, 0, length);
    }
    return new Uint8Array(new ArrayBuffer(capacity), 0, length);
  }

  /** Keeps `bytes`' buffer (one `take` made) for a later chunk, if there is room. */
  give(bytes: Uint8Array): void {
    const buffer = bytes.buffer;
    if (!(buffer instanceof ArrayBuffer) || buffer.byteLength === 0) return; // moved away
    if (this.#bytes + buffer.byteLength > SPARE_BYTES) return;
    const free = this.#free.get(buffer.byteLength) ?? [];
    free.push(buffer);
    this.#free.set(buffer.byteLength, free);
    this.#bytes += buffer.byteLength;
  }
}

/** Bytes of spare buffers one upload keeps at most. */
const SPARE_BYTES = 16 * 1024 * 1024;

function capacityFor(length: number): number {
  return Math.max(64 * 1024, 2 ** Math.ceil(Math.log2(Math.max(1, length))));
}
