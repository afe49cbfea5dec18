/**
 * Cuts a stream of bytes into content-defined chunks (`chunking/fastcdc.ts`), names each by the
 * SHA-256 of its bytes, and stores only the chunks the repository lacks: those go, compressed when
 * it pays, into packs (`PackWriter`). What it gives at the end is the file's list of chunk ids, in
 * order, and the packs it wrote; the caller indexes both in one commit.
 *
 * The bytes are copied once, into a ring in shared memory (`SharedRing`): the chunker scans them
 * there, the hashing worker reads each chunk there (`ChunkHasher.hashShared`: no copy, no
 * transfer), and a chunk stored raw is written to its pack from there. A chunk's bytes are released
 * once it is known to be stored already, compressed into bytes of its own, or written; a writer
 * that finds the ring full waits for that.
 *
 * Memory: the ring ({@linkcode RING_BYTES}, at least the chunker's maximum; of which a file smaller
 * than that touches only its size), what the pack writer holds (nothing on a folder: `PackWriter`), and 32 bytes per chunk
 * of the file for the list.
 *
 * @module
 */
import { Chunker, type ChunkerOptions, resolveChunkerSizes } from "../chunking/fastcdc.ts";
import { toHex } from "../common/hex.ts";
import type { EncodedBlob } from "./blob_codec.ts";
import type { PackWriter, WrittenPack } from "./pack_writer.ts";
import { type ChunkHasher, INLINE_HASHER } from "./chunk_hasher.ts";
import { SharedRing } from "./shared_ring.ts";

/**
 * Chunks hashed ahead of the one being stored: the hasher works while the event loop does (the
 * ring bounds the bytes they hold).
 */
const HASHING_AHEAD = 4;

/**
 * Bytes of the ring an upload copies into: the chunker's largest chunk (8 MiB), or some 16 chunks
 * of its average size being cut, hashed and written at once (a larger ring costs memory per upload
 * for no speed: docs/repository.md).
 */
export const RING_BYTES = 8 * 1024 * 1024;

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
   * `raw`: its memory is reused once the chunk is stored).
   */
  encode(raw: Uint8Array): EncodedBlob;
  /** The chunker's sizes; default: the repository's (`chunking/fastcdc.ts`). */
  chunker?: ChunkerOptions;
  /** Hashes chunks off the event loop; default: inline. */
  hasher?: ChunkHasher;
  /** Bytes of the ring (at least the chunker's maximum is used). @default RING_BYTES */
  ringBytes?: number;
  /**
   * Also hash the whole stream (`ChunkedFile.sha256`), in the hasher with each chunk's id: the
   * event loop never hashes. @default false
   */
  sha256?: boolean;
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
  /** The SHA-256 of the whole stream, if `ChunkedWriterOptions.sha256` asked for it. */
  sha256?: Uint8Array;
}

/** A chunk cut and not yet released: its stream offsets and its id being hashed. */
interface Cut {
  start: number;
  end: number;
  id: Promise<Uint8Array>;
  released: boolean;
}

/** One stream's chunking and storing; see the module comment. */
export class ChunkedWriter {
  readonly #options: ChunkedWriterOptions;
  readonly #chunker: Chunker;
  readonly #hasher: ChunkHasher;
  readonly #ring: SharedRing;
  /** Stream offset of the next byte to come, and of the oldest byte still needed. */
  #head = 0;
  #tail = 0;
  /** Where the chunk being cut starts. */
  #chunkStart = 0;
  /** Chunks cut, oldest first, until released (the ring's tail follows the oldest). */
  readonly #unreleased: Cut[] = [];
  /** Chunks being hashed, in file order: stored once their ids are known, oldest first. */
  readonly #hashing: Cut[] = [];
  /** Wakes a writer waiting for the ring's tail to move. */
  #released: PromiseWithResolvers<void> | undefined;
  #ids = new Uint8Array(CHUNK_ID_BYTES * 16);
  #count = 0;
  /** Ids this writer stored itself, hex: a chunk met twice in one file is stored once. */
  readonly #storedHere = new Set<string>();
  #newStoredBytes = 0;
  #ended = false;
  /** Set by `abort`: a write or finish in flight stops at its next step and fails. */
  #aborted = false;
  /** The write or finish in flight, settled (`abort` waits for it before the ring is given back). */
  #busy: Promise<unknown> = Promise.resolve();
  /** The hasher's stream of the whole file's SHA-256, if asked for. */
  readonly #stream: number | undefined;

  /** @param options see `ChunkedWriterOptions` */
  constructor(options: ChunkedWriterOptions) {
    this.#options = options;
    this.#chunker = new Chunker(options.chunker);
    const { maxSize } = resolveChunkerSizes(options.chunker);
    const full = Math.max(options.ringBytes ?? RING_BYTES, maxSize);
    // The full size whatever the file's (pages never written cost nothing): a ring of the file's
    // size would be a new SharedArrayBuffer per upload, which the hashing worker's heap keeps until
    // it happens to collect (measured in docs/repository.md).
    this.#ring = SharedRing.take(full, full);
    // A ring past the pool is hashed here: the worker would keep it until it happens to collect.
    this.#hasher = this.#ring.pooled ? options.hasher ?? INLINE_HASHER : INLINE_HASHER;
    this.#stream = options.sha256 ? this.#hasher.openStream() : undefined;
  }

  /** Stored bytes of the new chunks so far. */
  get newStoredBytes(): number {
    return this.#newStoredBytes;
  }

  /**
   * Takes the next bytes (copied: the caller may reuse them once this resolves).
   *
   * @throws {RangeError} if they go past the declared size.
   * @throws {Error} if the writer was aborted meanwhile.
   */
  write(bytes: Uint8Array): Promise<void> {
    return this.#track(this.#write(bytes));
  }

  async #write(bytes: Uint8Array): Promise<void> {
    this.#checkOpen();
    if (this.#head + bytes.length > this.#options.size) {
      throw new RangeError(`more bytes than the declared ${this.#options.size}`);
    }
    const ring = this.#ring;
    const capacity = ring.capacity;
    let taken = 0;
    while (taken < bytes.length) {
      this.#checkOpen(); // an abort gives the ring back: not one more byte into it
      const room = capacity - (this.#head - this.#tail);
      if (room === 0) {
        await this.#makeRoom();
        continue;
      }
      const at = this.#head % capacity;
      const count = Math.min(room, bytes.length - taken, capacity - at);
      ring.bytes.set(bytes.subarray(taken, taken + count), at);
      taken += count;
      this.#head += count;
      for (const end of this.#chunker.push(ring.bytes.subarray(at, at + count))) this.#cut(end);
      while (this.#hashing.length > HASHING_AHEAD) await this.#storeOldest();
    }
  }

  /**
   * Stores the last chunk and puts the last pack.
   *
   * @throws what storing threw (`abort` removes the packs written).
   */
  finish(): Promise<ChunkedFile> {
    return this.#track(this.#finish());
  }

  async #finish(): Promise<ChunkedFile> {
    this.#checkOpen();
    const end = this.#chunker.finish();
    if (end !== undefined) this.#cut(end);
    while (this.#hashing.length > 0) await this.#storeOldest();
    const sha256 = this.#stream === undefined
      ? undefined
      : await this.#hasher.digestStream(this.#stream);
    const packs = await this.#options.packs.finish();
    this.#checkOpen();
    this.#end();
    return {
      ids: this.#ids.subarray(0, this.#count * CHUNK_ID_BYTES),
      count: this.#count,
      packs,
      newStoredBytes: this.#newStoredBytes,
      sha256,
    };
  }

  /**
   * Removes the packs written. A write or finish in flight fails at its next step, and is waited
   * for: the ring is given back (to the next upload) only once nothing of this one can touch it.
   */
  async abort(): Promise<void> {
    this.#aborted = true;
    this.#released?.resolve(); // a write waiting for room wakes, and fails
    await this.#busy;
    await Promise.allSettled(this.#hashing.splice(0).map((cut) => cut.id));
    await this.#options.packs.abort();
    this.#end();
  }

  /** Remembers `operation` as the one in flight, for `abort`. */
  #track<T>(operation: Promise<T>): Promise<T> {
    this.#busy = operation.catch(() => {});
    return operation;
  }

  #checkOpen(): void {
    if (this.#aborted) throw new Error("the upload was aborted");
  }

  /** Gives the ring back once nothing reads it: hashes settled, the pack writer done. */
  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#stream !== undefined) this.#hasher.closeStream(this.#stream);
    this.#ring.release();
  }

  /** Hands the chunk from `#chunkStart` to stream offset `end` to the hasher. */
  #cut(end: number): void {
    const start = this.#chunkStart;
    const spans = this.#ring.spans(start, end);
    const id = this.#hasher.hashShared(this.#ring.memory, spans, this.#stream);
    id.catch(() => {}); // awaited in turn by #storeOldest
    const cut: Cut = { start, end, id, released: false };
    this.#hashing.push(cut);
    this.#unreleased.push(cut);
    this.#chunkStart = end;
  }

  /** Waits for the ring's tail to move: stores the oldest chunk, or waits for a write. */
  async #makeRoom(): Promise<void> {
    if (this.#hashing.length > 0) return await this.#storeOldest();
    if (this.#unreleased.length === 0) throw new RangeError("more bytes than the ring holds");
    this.#released = Promise.withResolvers();
    await this.#released.promise;
  }

  /** Stores the oldest chunk being hashed, unless the user has it; adds its id to the list. */
  async #storeOldest(): Promise<void> {
    const cut = this.#hashing.shift()!;
    const id = await cut.id;
    this.#checkOpen();
    const key = toHex(id);
    if (!this.#storedHere.has(key) && !this.#options.holds(id)) {
      const raw = this.#ring.view(cut.start, cut.end);
      const encoded = this.#options.encode(raw);
      // A chunk stored raw from the ring is released once the pack writer has written it; one
      // compressed (or copied, for wrapping around the ring) has bytes of its own already.
      const fromRing = encoded.stored === raw && raw.buffer === this.#ring.memory;
      if (!fromRing) this.#release(cut);
      await this.#options.packs.add(
        id,
        encoded,
        raw.length,
        fromRing ? () => this.#release(cut) : undefined,
      );
      this.#storedHere.add(key);
      this.#newStoredBytes += encoded.stored.length;
    } else {
      this.#release(cut);
    }
    this.#push(id);
  }

  /** Marks a chunk's bytes free; the ring's tail moves past every released chunk in order. */
  #release(cut: Cut): void {
    cut.released = true;
    while (this.#unreleased.length > 0 && this.#unreleased[0].released) {
      this.#tail = this.#unreleased.shift()!.end;
    }
    this.#released?.resolve();
    this.#released = undefined;
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
