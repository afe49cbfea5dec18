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
 * leaves no half-written file under a final name. (A process killed mid-batch leaves its files as
 * they were: half-written ones in a private folder whose mode is not yet set, or temporary files.)
 *
 * File steps are synchronous (open, write, metadata, close): each takes microseconds, less than the
 * hop of an asynchronous call to a worker thread and back; a restore of many small files is made
 * of them.
 *
 * @module
 */
import type { FileEntry } from "../../protocol/v3/tree.ts";
import type { BlobId, BlobSource } from "./blobs.ts";
import { RestoreError } from "./restore_errors.ts";
import { temporaryName } from "./restore_links.ts";
import { applyFileMetadata, creationMode, type MetadataOptions } from "./restore_metadata.ts";

/** A file to restore into a folder the restorer made or checked (a real folder, not a link). */
export interface PlannedFile {
  entry: FileEntry;
  /** The folder's local path. */
  dir: string;
  /** `dir` was made by this restore: write under the final name (see the module comment). */
  inPlace?: boolean;
  /** Its path beneath the target, for messages and progress. */
  shown: string;
  /** Called once the file is in place, with its metadata. */
  onDone(): Promise<void>;
}

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
}

/** What crossed, for the report and the tests. */
export interface FileBatchStats {
  batches: number;
  chunksFetched: number;
  bytesFetched: number;
  /** Chunks written from an earlier place in the batch instead of fetched again. */
  chunksCopied: number;
}

interface OpenFile {
  file: PlannedFile;
  /** Where it is written: its final path, or a temporary name beside it. */
  partial: string;
  /** `partial` is the final path. */
  inPlace: boolean;
  /** `partial` was made (by `createNew`): it is this restore's to remove after a failure. */
  made?: boolean;
  /** It was made with its final mode (no `chmod` needed). */
  modeSet?: boolean;
  handle?: Deno.FsFile;
  written: number;
  /** Where the handle's offset is (a seek is needed only after a read back). */
  position: number;
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
  #refs = 0;
  #files = 0;

  /** @param options see `FileBatchOptions` */
  constructor(options: FileBatchOptions) {
    this.#options = options;
  }

  /** Queues `file`, writing a batch whenever one fills. @throws {RestoreError} */
  async add(file: PlannedFile): Promise<void> {
    const inPlace = file.inPlace === true;
    const partial = inPlace ? `${file.dir}/${file.entry.name}` : temporaryName(file.dir);
    const open: OpenFile = { file, partial, inPlace, written: 0, position: 0 };
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

  /** Writes everything queued. @throws {RestoreError} naming the file that failed. */
  async flush(): Promise<void> {
    if (this.#spans.length === 0) return;
    const spans = this.#spans;
    this.#spans = [];
    this.#refs = 0;
    this.#files = 0;
    this.stats.batches++;
    const fetches = new OrderedFetch(this.#options.source, firstUses(spans), this.#options);
    const places = new Map<BlobId, Place>();
    const complete: OpenFile[] = [];
    let current: OpenFile | undefined;
    try {
      for (const { open, from, to, last } of spans) {
        current = open;
        const { entry } = open.file;
        open.handle ??= create(open, this.#options.metadata, this.#modeBits);
        for (let i = from; i < to; i++) {
          this.#options.signal?.throwIfAborted();
          const id = entry.content[i];
          const place = places.get(id);
          let bytes: Uint8Array;
          if (place) {
            bytes = readAt(place.open, place.offset, place.length);
            this.stats.chunksCopied++;
          } else {
            bytes = await fetches.next(id);
            places.set(id, { open, offset: open.written, length: bytes.length });
          }
          if (open.written + bytes.length > entry.size) {
            throw new Error(`its chunks hold more than its declared size of ${entry.size} bytes`);
          }
          writeAt(open, open.written, bytes);
          open.written += bytes.length;
          this.#options.onBytes(open.file, bytes.length);
        }
        if (last) {
          if (open.written !== entry.size) {
            throw new Error(
              `its chunks hold ${open.written} bytes; its declared size is ${entry.size}`,
            );
          }
          complete.push(open);
        }
      }
      // Metadata only once nothing reads a file back (a read would move its access time).
      for (const open of complete) {
        current = open;
        await this.#finish(open);
      }
    } catch (error) {
      await fetches.settle();
      const aborted = this.#options.signal?.aborted && error === this.#options.signal.reason;
      if (aborted || error instanceof RestoreError || !current) throw error;
      throw new RestoreError(current.file.shown, (error as Error).message, { cause: error });
    } finally {
      this.stats.chunksFetched += fetches.fetched;
      this.stats.bytesFetched += fetches.bytes;
    }
  }

  /**
   * Closes and removes every file this batcher made that is not yet in place (after a failure):
   * temporary files, and files under their final names in folders the restore made.
   */
  async discard(): Promise<void> {
    for (const open of this.#unfinished) {
      open.handle?.close();
      if (open.made) await Deno.remove(open.partial).catch(() => {});
    }
    this.#unfinished.clear();
    this.#spans = [];
  }

  async #finish(open: OpenFile): Promise<void> {
    const { file } = open;
    applyFileMetadata(open.partial, open.handle!, file.entry, this.#options.metadata, open.modeSet);
    open.handle!.close();
    open.handle = undefined;
    const path = `${file.dir}/${file.entry.name}`;
    try {
      if (!open.inPlace) Deno.renameSync(open.partial, path);
    } catch (error) {
      if (Deno.lstatSync(path).isDirectory) {
        throw new Error("a folder is in the way (not replaced)", { cause: error });
      }
      throw error;
    }
    this.#unfinished.delete(open);
    await file.onDone();
  }
}

/** The distinct chunk ids of `spans` in the order of their first use. */
function firstUses(spans: Span[]): BlobId[] {
  const seen = new Set<BlobId>();
  for (const { open, from, to } of spans) {
    for (let i = from; i < to; i++) seen.add(open.file.entry.content[i]);
  }
  return [...seen];
}

/** Gets of `ids` in order, at most `concurrency` fetched ahead of the one taken. */
class OrderedFetch {
  readonly #pending: Array<{ id: BlobId; bytes: Promise<Uint8Array> }> = [];
  #started = 0;
  fetched = 0;
  bytes = 0;

  constructor(
    readonly source: BlobSource,
    readonly ids: BlobId[],
    readonly options: { concurrency: number },
  ) {
    this.#fill();
  }

  /** The next chunk's bytes, which must be `id`'s. @throws what the source throws */
  async next(id: BlobId): Promise<Uint8Array> {
    const head = this.#pending[0];
    if (head?.id !== id) throw new Error(`restorer: expected chunk ${head?.id}, not ${id}`);
    const bytes = await head.bytes;
    // Only now is there room for one more: at most `concurrency` gets in flight or held. Refilled
    // once half is taken, not one by one: the gets then leave together in one write (one syscall
    // for many small requests, and the server reads them in one go).
    this.#pending.shift();
    if (this.#pending.length <= this.options.concurrency >> 1) this.#fill();
    return bytes;
  }

  /** Waits for the gets in flight (after a failure, so that none outlives the restore). */
  async settle(): Promise<void> {
    await Promise.allSettled(this.#pending.map((p) => p.bytes));
    this.#pending.length = 0;
  }

  #fill(): void {
    while (this.#pending.length < this.options.concurrency && this.#started < this.ids.length) {
      const id = this.ids[this.#started++];
      const bytes = this.source.get(id, "data").then((raw) => {
        this.fetched++;
        this.bytes += raw.length;
        return raw;
      });
      // Handled when taken; until then a rejection must not count as unhandled.
      bytes.catch(() => {});
      this.#pending.push({ id, bytes });
    }
  }
}

/**
 * Opens `open`'s file, new (never through a link). Under its final name in a folder this restore
 * made, something there already (only a process with the folder's owner's rights could have put it
 * there) is not replaced in place: the file goes by a temporary name and a rename instead.
 */
function create(
  open: OpenFile,
  metadata: MetadataOptions,
  modeBits: { kept: number },
): Deno.FsFile {
  const options = { read: true, write: true, createNew: true, mode: 0o600 };
  if (open.inPlace) {
    // In a private folder the file may have its final mode from the start: one `chmod` less, once
    // a file showed that the umask leaves its bits alone (the umask cannot be read without
    // `--allow-sys`; one `fstat` per new combination of bits, not one per file).
    const mode = creationMode(open.file.entry, metadata);
    try {
      const file = Deno.openSync(open.partial, { ...options, mode: mode ?? 0o600 });
      open.made = true;
      if (mode !== undefined && (mode & ~modeBits.kept) !== 0) {
        if ((file.statSync().mode! & 0o7777) === mode) modeBits.kept |= mode;
      }
      open.modeSet = mode !== undefined && (mode & ~modeBits.kept) === 0;
      return file;
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
      open.inPlace = false;
      open.partial = temporaryName(open.file.dir);
    }
  }
  const file = Deno.openSync(open.partial, options);
  open.made = true;
  return file;
}

function readAt(open: OpenFile, offset: number, length: number): Uint8Array {
  const file = open.handle!;
  file.seekSync(offset, Deno.SeekMode.Start);
  open.position = offset + length;
  const bytes = new Uint8Array(length);
  for (let got = 0; got < length;) {
    const n = file.readSync(bytes.subarray(got));
    if (n === null) throw new Error("a chunk written earlier in this restore is gone");
    got += n;
  }
  return bytes;
}

function writeAt(open: OpenFile, offset: number, bytes: Uint8Array): void {
  const file = open.handle!;
  if (open.position !== offset) file.seekSync(offset, Deno.SeekMode.Start);
  open.position = offset + bytes.length;
  for (let done = 0; done < bytes.length;) done += file.writeSync(bytes.subarray(done));
}
