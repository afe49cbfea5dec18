/**
 * Writing a restore's files in batches, restic's way but without its index: a batch is a run of
 * files (or parts of one large file) holding at most `maxBatchRefs` chunk references and at most
 * `maxBatchFiles` files. Within a batch each distinct chunk is fetched once, in the order of its
 * first use, a `window` of gets in flight; the files are written in order, and a chunk
 * used again is copied from where the batch first wrote it (read back from that file, not fetched
 * again). Across batches a chunk may be fetched again: memory is bounded by the settings, never by
 * the snapshot (the chunk-to-place map of one batch, and the chunks of the `window`).
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
 * One batch's chunks are fetched and written by `writeBatch` (`restore_batch.ts`); this module
 * queues the files, finishes those complete (metadata, close, rename) and settles the rest.
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
import type { BlobSource } from "./blobs.ts";
import { type BatchOutcome, type BatchSettings, type Span, writeBatch } from "./restore_batch.ts";
import { isPathFailure, RestoreError } from "./restore_errors.ts";
import type { FetchWindow } from "./restore_fetch.ts";
import type { FilePool, WholeFileOutcome } from "./restore_file_pool.ts";
import { temporaryName } from "./restore_links.ts";
import { applyFileMetadata, type MetadataOptions } from "./restore_metadata.ts";
import type { OpenFile, PlannedFile } from "./restore_open_file.ts";

export type { PlannedFile } from "./restore_open_file.ts";
export { WHOLE_FILE_MAX_BYTES } from "./restore_batch.ts";

/** The batch writer's settings. */
export interface FileBatchOptions {
  source: BlobSource;
  metadata: MetadataOptions;
  /** Chunk references in one batch (a larger file is split across batches). */
  maxBatchRefs: number;
  /** Files in one batch (each holds an open file until the batch ends). */
  maxBatchFiles: number;
  /** Gets in flight or held, and their expected bytes (see `OrderedFetch`). */
  window: FetchWindow;
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
  /** What each batch needs (`writeBatch`). */
  readonly #settings: BatchSettings;
  #spans: Span[] = [];
  /** The last batch's files given to the workers, not yet settled. */
  #handedOff?: HandedOff;
  #refs = 0;
  #files = 0;

  /** @param options see `FileBatchOptions` */
  constructor(options: FileBatchOptions) {
    this.#options = options;
    this.#settings = {
      ...options,
      onBytes: (open, bytes) => options.onBytes(open.file, bytes),
      // Permission bits a file was seen to keep when made with them (the umask clears none).
      modeBits: { kept: 0 },
    };
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
    const outcome: BatchOutcome = {
      complete: [],
      offloaded: [],
      failed: [],
      fetched: { chunks: 0, bytes: 0 },
      copied: 0,
    };
    try {
      await writeBatch(spans, this.#settings, outcome);
    } finally {
      this.stats.chunksFetched += outcome.fetched.chunks;
      this.stats.bytesFetched += outcome.fetched.bytes;
      this.stats.chunksCopied += outcome.copied;
    }
    const { complete, offloaded, failed } = outcome;
    // The workers' files of this batch are settled at the end of the next (or by `finish`):
    // the main thread goes on fetching meanwhile.
    const previous = this.#handedOff;
    this.#handedOff = offloaded.length > 0
      ? { files: offloaded, outcomes: this.#options.pool!.drain() }
      : undefined;
    // Metadata only once nothing reads a file back (a read would move its access time).
    for (const open of complete) {
      try {
        // A worker's file is in place already.
        if (open.fd !== undefined) this.#finish(open);
      } catch (error) {
        if (!isPathFailure(error, this.#options.signal)) throw error;
        open.failed = error;
        failed.push(open);
        continue;
      }
      this.#unfinished.delete(open);
      await open.file.onDone();
    }
    await this.#settle(previous);
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
