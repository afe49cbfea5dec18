/**
 * Writing a restore's files in batches, restic's way but without its index: a batch is a run of
 * files (or parts of one large file) holding at most `maxBatchRefs` chunk references and at most
 * `maxBatchFiles` files. Within a batch each distinct chunk is fetched once, in the order of its
 * first use, with up to `concurrency` gets in flight; the files are written in order, and a chunk
 * used again is copied from where the batch first wrote it (read back from that file, not fetched
 * again). Across batches a chunk may be fetched again: memory is bounded by the settings, never by
 * the snapshot (the chunk-to-place map of one batch, and `concurrency` chunks fetched ahead).
 *
 * Where a file is written depends on its folder. In a folder this restore made (`inPlace`: made
 * empty and 0700, given its own mode only once its contents are in place) the file is made under
 * its final name, new (`createNew`: a link there is never followed); no one else may look into the
 * folder meanwhile, and a file of a failed batch is removed. In a folder that was there before, it
 * is written to a new temporary file beside its final name and renamed into place once complete.
 * Either way a file is checked against its declared size and given its metadata before it counts
 * as in place: a failure (a blob that does not match, a size that does not add up, a full disk)
 * leaves no half-written file under a final name. A file that fails is removed at the end of its
 * batch and reported (`onFailed`); the rest of the batch goes on (restic's way), its chunks still
 * taken in order. Only a failure `isPathFailure` says is not about one path (a lost connection,
 * Ctrl-C) stops the batch. (A process killed mid-batch leaves its files as they were: half-written
 * ones in a private folder whose mode is not yet set, or temporary files.)
 *
 * File steps are synchronous (open, write, metadata, close; `restore_open_file.ts`): each takes
 * microseconds, less than the hop of an asynchronous call to a worker thread and back. A small
 * file in a folder the restore made (at most `WHOLE_FILE_MAX_BYTES`, its chunks used nowhere else
 * in the batch) is instead held whole and written by a file worker (`restore_file_pool.ts`) while
 * this thread fetches the next; the workers' files of a batch are settled (`onDone`, `onFailed`)
 * at the end of the next batch, or by `finish`.
 *
 * @module
 */
import { closeSync } from "node:fs";
import type { BlobId, BlobSource } from "./blobs.ts";
import { isPathFailure, RestoreError } from "./restore_errors.ts";
import { OrderedFetch } from "./restore_fetch.ts";
import { temporaryName } from "./restore_links.ts";
import {
  ALL_MODE_BITS,
  applyFileMetadata,
  type MetadataOptions,
  UNPRIVILEGED_MODE_BITS,
} from "./restore_metadata.ts";
import {
  create,
  type OpenFile,
  type PlannedFile,
  readAt,
  wholeEntry,
  writeAt,
} from "./restore_open_file.ts";

export type { PlannedFile } from "./restore_open_file.ts";
import type { FilePool, WholeFileOutcome } from "./restore_file_pool.ts";

/**
 * A file at most this large, in a folder the restore made, whose chunks the batch uses nowhere
 * else, is held whole and written by a file worker (`FilePool`), if the batcher has one.
 */
export const WHOLE_FILE_MAX_BYTES = 1024 * 1024;

/** The batch writer's settings. */
export interface FileBatchOptions {
  source: BlobSource;
  metadata: MetadataOptions;
  /** Chunk references in one batch (a larger file is split across batches). */
  maxBatchRefs: number;
  /** Files in one batch (each holds an open file until the batch ends). */
  maxBatchFiles: number;
  /** Gets in flight. */
  concurrency: number;
  /** Called after each write of `bytes` into `file`. */
  onBytes(file: PlannedFile, bytes: number): void;
  /** Stops the batch between two chunks. */
  signal?: AbortSignal;
  /** Workers for small files (see `WHOLE_FILE_MAX_BYTES`); none: all are written here. */
  pool?: FilePool;
}

/** What crossed, for the report and the tests. */
export interface FileBatchStats {
  batches: number;
  chunksFetched: number;
  bytesFetched: number;
  /** Chunks written from an earlier place in the batch instead of fetched again. */
  chunksCopied: number;
}

interface HandedOff {
  files: OpenFile[];
  outcomes: Promise<WholeFileOutcome[]>;
}

interface Span {
  open: OpenFile;
  from: number;
  to: number;
  last: boolean;
}

interface Place {
  open: OpenFile;
  offset: number;
  length: number;
}

/** Files queued for writing, written a batch at a time; see the module comment. */
export class FileBatcher {
  readonly stats: FileBatchStats = {
    batches: 0,
    chunksFetched: 0,
    bytesFetched: 0,
    chunksCopied: 0,
  };
  readonly #options: FileBatchOptions;
  readonly #unfinished = new Set<OpenFile>();
  /** Permission bits a file was seen to keep when made with them (the umask clears none). */
  readonly #modeBits = { kept: 0 };
  #spans: Span[] = [];
  /** The last batch's files given to the workers, not yet settled. */
  #handedOff?: HandedOff;
  #refs = 0;
  #files = 0;

  /** @param options see `FileBatchOptions` */
  constructor(options: FileBatchOptions) {
    this.#options = options;
  }

  /** Queues `file`, writing a batch whenever one fills. @throws what `flush` throws */
  async add(file: PlannedFile): Promise<void> {
    const inPlace = file.inPlace === true;
    const partial = inPlace ? `${file.dir}/${file.entry.name}` : temporaryName(file.dir);
    const open: OpenFile = { file, partial, inPlace, written: 0 };
    this.#unfinished.add(open);
    const refs = file.entry.content.length;
    let from = 0;
    do {
      const take = Math.min(refs - from, this.#options.maxBatchRefs - this.#refs);
      if (from === 0) this.#files++;
      this.#spans.push({ open, from, to: from + take, last: from + take === refs });
      this.#refs += take;
      from += take;
      if (this.#refs >= this.#options.maxBatchRefs || this.#files >= this.#options.maxBatchFiles) {
        await this.flush();
        // A file continued in the next batch holds its open file there too.
        if (from < refs) this.#files++;
      }
    } while (from < refs);
  }

  /**
   * Writes everything queued; a file that fails is reported through its `onFailed`.
   *
   * @throws what stops the restore (see `isPathFailure`): the batch's files not yet in place are
   *   left for `discard`.
   */
  async flush(): Promise<void> {
    if (this.#spans.length === 0) return;
    const spans = this.#spans;
    this.#spans = [];
    this.#refs = 0;
    this.#files = 0;
    this.stats.batches++;
    const { signal, source } = this.#options;
    const chunks = batchChunks(spans);
    const fetches = new OrderedFetch(source, chunks.order, this.#options);
    const places = new Map<BlobId, Place>();
    /** Chunks whose get failed, and chunks taken for a file that had failed (not placed). */
    const lost = new Map<BlobId, unknown>();
    const unplaced = new Set<BlobId>();
    const complete: OpenFile[] = [];
    const offloaded: OpenFile[] = [];
    const failed: OpenFile[] = [];
    const pool = this.#options.pool;
    const fail = (open: OpenFile, error: unknown) => {
      if (!isPathFailure(error, signal)) throw error;
      open.failed = error;
      failed.push(open);
    };
    try {
      for (const span of spans) {
        const { open, from, to, last } = span;
        const { entry } = open.file;
        if (
          pool && open.inPlace && from === 0 && last && entry.size <= WHOLE_FILE_MAX_BYTES &&
          !entry.content.some((id) => chunks.repeated.has(id))
        ) {
          open.whole = [];
        } else if (open.failed === undefined && open.fd === undefined) {
          try {
            open.fd = create(open, this.#options.metadata, this.#modeBits, {
              read: !(from === 0 && last) || entry.content.some((id) => chunks.repeated.has(id)),
            });
          } catch (error) {
            fail(open, error);
          }
        }
        for (let i = from; i < to; i++) {
          signal?.throwIfAborted();
          const id = entry.content[i];
          const place = places.get(id);
          if (open.failed !== undefined) {
            // Its first uses are still taken, in order, for the files after it.
            if (!place && !lost.has(id) && !unplaced.has(id)) {
              unplaced.add(id);
              await fetches.next(id).catch((error) => {
                if (!isPathFailure(error, signal)) throw error;
                lost.set(id, error);
              });
            }
            continue;
          }
          let taken = false;
          try {
            let bytes: Uint8Array;
            if (place) {
              bytes = readAt(place.open, place.offset, place.length);
              this.stats.chunksCopied++;
            } else if (lost.has(id)) {
              throw lost.get(id);
            } else if (unplaced.has(id)) {
              // First used by a file that had failed: fetched again, once.
              unplaced.delete(id);
              bytes = await source.get(id, "data").catch((error) => {
                lost.set(id, error);
                throw error;
              });
              taken = true;
              this.stats.chunksFetched++;
              this.stats.bytesFetched += bytes.length;
            } else {
              bytes = await fetches.next(id).catch((error) => {
                lost.set(id, error);
                throw error;
              });
              taken = true;
            }
            if (open.written + bytes.length > entry.size) {
              throw new Error(`its chunks hold more than its declared size of ${entry.size} bytes`);
            }
            if (open.whole) open.whole.push(bytes);
            else {
              writeAt(open, open.written, bytes);
              if (!place) places.set(id, { open, offset: open.written, length: bytes.length });
            }
            open.written += bytes.length;
            this.#options.onBytes(open.file, bytes.length);
          } catch (error) {
            // Taken but not written: a later file needing it fetches it again.
            if (taken && !places.has(id)) unplaced.add(id);
            fail(open, error);
          }
        }
        if (last && open.failed === undefined) {
          if (open.written !== entry.size) {
            fail(
              open,
              new Error(
                `its chunks hold ${open.written} bytes; its declared size is ${entry.size}`,
              ),
            );
          } else if (open.whole) {
            offloaded.push(open);
            pool!.submit({
              dir: open.file.dir,
              entry: wholeEntry(entry, this.#options.metadata),
              chunks: open.whole,
              asRoot: this.#options.metadata.asRoot,
              mode: entry.mode &
                (this.#options.metadata.asRoot ? ALL_MODE_BITS : UNPRIVILEGED_MODE_BITS),
            });
            open.whole = undefined;
          } else complete.push(open);
        }
      }
      // The workers' files of this batch are settled at the end of the next (or by `finish`):
      // the main thread goes on fetching meanwhile.
      const previous = this.#handedOff;
      this.#handedOff = offloaded.length > 0
        ? { files: offloaded, outcomes: pool!.drain() }
        : undefined;
      // Metadata only once nothing reads a file back (a read would move its access time).
      for (const open of complete) {
        try {
          // A worker's file is in place already.
          if (open.fd !== undefined) this.#finish(open);
        } catch (error) {
          fail(open, error);
          continue;
        }
        this.#unfinished.delete(open);
        await open.file.onDone();
      }
      await this.#settle(previous);
    } catch (error) {
      await fetches.settle();
      throw error;
    } finally {
      this.stats.chunksFetched += fetches.fetched;
      this.stats.bytesFetched += fetches.bytes;
    }
    // Failed files go only now: until the batch ended, later files could copy chunks from them.
    for (const open of failed) {
      this.#remove(open);
      const error = open.failed;
      await open.file.onFailed(
        error instanceof RestoreError
          ? error
          : new RestoreError(open.file.shown, (error as Error).message, { cause: error }),
      );
    }
  }

  /** Writes everything queued and waits for the file workers. @throws what `flush` throws */
  async finish(): Promise<void> {
    await this.flush();
    const last = this.#handedOff;
    this.#handedOff = undefined;
    await this.#settle(last);
  }

  /** Reports how the workers' files of a batch ended (`onDone`, or `onFailed`: nothing left). */
  async #settle(handedOff: HandedOff | undefined): Promise<void> {
    if (!handedOff) return;
    const outcomes = await handedOff.outcomes;
    for (const [i, open] of handedOff.files.entries()) {
      this.#unfinished.delete(open);
      const failure = outcomes[i];
      if (failure === undefined) await open.file.onDone();
      else await open.file.onFailed(new RestoreError(open.file.shown, failure.message));
    }
  }

  /**
   * Closes and removes every file this batcher made that is not yet in place (after a failure):
   * temporary files, and files under their final names in folders the restore made.
   */
  discard(): Promise<void> {
    for (const open of this.#unfinished) this.#remove(open);
    this.#spans = [];
    return Promise.resolve();
  }

  #remove(open: OpenFile): void {
    this.#unfinished.delete(open);
    if (open.fd !== undefined) closeSync(open.fd);
    open.fd = undefined;
    if (open.made) {
      open.made = false;
      try {
        Deno.removeSync(open.partial);
      } catch {
        // Gone already (a rename that failed half-way cannot happen; a hand that removed it can).
      }
    }
  }

  /** Metadata, close, and the rename into place. @throws the file system's errors */
  #finish(open: OpenFile): void {
    const { file } = open;
    const fd = open.fd!;
    applyFileMetadata(fd, open.partial, file.entry, this.#options.metadata, open.modeSet);
    open.fd = undefined;
    closeSync(fd);
    const path = `${file.dir}/${file.entry.name}`;
    try {
      if (!open.inPlace) Deno.renameSync(open.partial, path);
    } catch (error) {
      if (Deno.lstatSync(path).isDirectory) {
        throw new Error("a folder is in the way (not replaced)", { cause: error });
      }
      throw error;
    }
  }
}

/**
 * The distinct chunk ids of `spans` in the order of their first use, and those used more than
 * once (read back from where they were first written).
 */
function batchChunks(spans: Span[]): { order: BlobId[]; repeated: Set<BlobId> } {
  const seen = new Set<BlobId>();
  const repeated = new Set<BlobId>();
  for (const { open, from, to } of spans) {
    for (let i = from; i < to; i++) {
      const id = open.file.entry.content[i];
      if (seen.has(id)) repeated.add(id);
      else seen.add(id);
    }
  }
  return { order: [...seen], repeated };
}
