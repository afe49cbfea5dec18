/**
 * The archiver's readers: a fixed number of `FileChunker`s (one reused buffer each), so that a
 * few files are read at once while the walk goes on, and never more.
 *
 * @module
 */
import type { OpenedFile } from "./archive_options.ts";
import type { BlobId } from "./blobs.ts";
import type { BlobPipeline } from "./blob_pipeline.ts";
import { MIN_CHUNK_SIZE } from "../../chunking/fastcdc.ts";
import { type Slab, SlabPool } from "./chunk_slabs.ts";
import { blobIdOf, type ByteReader, FileChunker } from "./file_chunks.ts";
import { type Progress, reasonOf } from "./progress.ts";

/** What the readers need. */
export interface FileReadersOptions {
  /** How many files are read at once. */
  readers: number;
  /** Bytes asked per read. */
  readBytes: number;
  open: (path: string) => Promise<OpenedFile>;
  /**
   * Whether files of at most one chunk are read with synchronous calls on the walk's turn
   * (`readSmall`); off when `open` is not the file system's (a test's opener sees every file).
   */
  syncSmall?: boolean;
  pipeline: BlobPipeline;
  progress: Progress;
  /** Names a chunk's bytes (the repository's ids). @default blobIdOf */
  blobId?: (raw: Uint8Array) => BlobId;
}

/** A file's chunk ids in order, and the bytes read. */
export interface ReadFile {
  content: BlobId[];
  size: number;
}

/** See the module comment. */
export class FileReaders {
  readonly #options: FileReadersOptions;
  readonly #free: FileChunker[];
  #waiting: (() => void)[] = [];
  readonly #pool: SlabPool;
  /**
   * The slab `readSmall` reads into, from `#smallAt` on: each file's blob is a view of it (no
   * copy, no allocation per file), and it goes back to the pool once its blobs are stored.
   */
  #small?: Slab;
  #smallAt = 0;

  /** @param options how many readers, and where their chunks and reports go */
  constructor(options: FileReadersOptions) {
    this.#options = options;
    // One pool: a slab one reader let go serves another.
    const pool = this.#pool = new SlabPool();
    this.#free = Array.from(
      { length: options.readers },
      () => new FileChunker(options.readBytes, pool, options.blobId),
    );
  }

  /** Whether a file `lstat` says has `size` bytes may go through `readSmall`. */
  fitsInOneRead(size: number): boolean {
    return this.#options.syncSmall === true && size <= MIN_CHUNK_SIZE;
  }

  /**
   * Reads a file of at most one chunk (the chunker cuts nothing before `MIN_CHUNK_SIZE` bytes, so
   * the whole file is its one chunk, as `read` would cut it) with synchronous calls, and hands
   * its chunk to the pipeline: no reader, no promise per read. For the small files of a tree
   * this halves the CPU per file. Resolves to undefined when it cannot be opened or read (as
   * `read`), or `null` if it grew past one chunk since `lstat` (then `read` it).
   *
   * @throws only the sink's failure.
   */
  async readSmall(path: string, size: number): Promise<ReadFile | undefined | null> {
    // Room for one byte more than a file of one chunk, to see one that grew.
    if (!this.#small || this.#small.bytes.length - this.#smallAt <= MIN_CHUNK_SIZE) {
      this.#small?.retire();
      this.#small = this.#pool.take(MIN_CHUNK_SIZE + 1);
      this.#smallAt = 0;
    }
    const slab = this.#small;
    const buffer = slab.bytes.subarray(this.#smallAt, this.#smallAt + MIN_CHUNK_SIZE + 1);
    const { progress, pipeline } = this.#options;
    let filled = 0;
    let file: Deno.FsFile | undefined;
    try {
      file = Deno.openSync(path);
      progress.emit({ type: "file", path, size });
      while (filled < buffer.length) {
        const asked = buffer.length - filled;
        const n = file.readSync(buffer.subarray(filled));
        if (n === null) break;
        filled += n;
        // A regular file's read comes back short only at its end: no read more to be told so (a
        // read per file fewer) once it reached the size lstat gave. Not for a size of 0: a /proc
        // file says 0 and reads a page at a time.
        if (n < asked && filled === size && size > 0) break;
      }
    } catch (error) {
      progress.error(path, "unreadable", reasonOf(error));
      return undefined;
    } finally {
      file?.close();
    }
    if (filled > MIN_CHUNK_SIZE) return null;
    if (filled !== size) {
      progress.error(
        path,
        "changed",
        `its size changed while read (${size} → ${filled} bytes); stored as read`,
      );
    }
    if (filled === 0) return { content: [], size: 0 };
    const raw = buffer.subarray(0, filled);
    this.#smallAt += filled;
    const id = (this.#options.blobId ?? blobIdOf)(raw);
    await pipeline.add({ id, kind: "data", raw }, slab.hold());
    return { content: [id], size: filled };
  }

  /** Resolves once a reader is free (the caller then calls `read` without awaiting first). */
  async acquire(): Promise<void> {
    while (this.#free.length === 0) await this.#wait();
  }

  /** Resolves once no reader is busy. */
  async idle(): Promise<void> {
    while (this.#free.length < this.#options.readers) await this.#wait();
  }

  /**
   * Reads, cuts and sends the file `path` that `lstat` said has `size` bytes, with a reader that
   * `acquire` said is free. Resolves to undefined when it cannot be opened or read (reported as
   * `unreadable`); a size that changed while reading is reported as `changed`, and what was read
   * is returned.
   *
   * @throws only the sink's failure.
   */
  read(path: string, size: number): Promise<ReadFile | undefined> {
    // Taken now, before any await, so that the walk's next `acquire` sees it gone.
    const chunker = this.#take();
    const { progress, pipeline } = this.#options;
    return (async () => {
      let file: OpenedFile | undefined;
      let sinkFailed = false;
      try {
        file = await this.#options.open(path);
        progress.emit({ type: "file", path, size });
        const read = await chunker.chunk(
          file,
          (id, raw, release) =>
            pipeline.add({ id, kind: "data", raw }, release).catch((error) => {
              sinkFailed = true;
              throw error;
            }),
        );
        if (read.size !== size) {
          const change = `${size} → ${read.size} bytes`;
          progress.error(
            path,
            "changed",
            `its size changed while read (${change}); stored as read`,
          );
        }
        return read;
      } catch (error) {
        if (sinkFailed) throw error;
        progress.error(path, "unreadable", reasonOf(error));
        return undefined;
      } finally {
        file?.close();
        this.#give(chunker);
      }
    })();
  }

  /** Cuts a stream (standard input) with the next free reader, sending its chunks. */
  async chunk(reader: ByteReader): Promise<ReadFile> {
    await this.acquire();
    const chunker = this.#take();
    try {
      return await chunker.chunk(
        reader,
        (id, raw, release) => this.#options.pipeline.add({ id, kind: "data", raw }, release),
      );
    } finally {
      this.#give(chunker);
    }
  }

  #take(): FileChunker {
    const chunker = this.#free.pop();
    if (!chunker) throw new Error("FileReaders: read without a free reader (acquire first)");
    return chunker;
  }

  /** Gives `chunker` back and wakes whoever waits (each checks again). */
  #give(chunker: FileChunker): void {
    this.#free.push(chunker);
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const wake of waiting) wake();
  }

  #wait(): Promise<void> {
    return new Promise<void>((resolve) => this.#waiting.push(resolve));
  }
}
