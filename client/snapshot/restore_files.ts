/**
 * Writing a restore's files in batches, restic's way but without its index: a batch is a run of
 * files (or parts of one large file) holding at most `maxBatchRefs` chunk references and at most
 * `maxBatchFiles` files. Within a batch each distinct chunk is fetched once, in the order of its
 * first use, with up to `concurrency` gets in flight; the files are written in order, and a chunk
 * used again is copied from where the batch first wrote it (read back from that file, not fetched
 * again). Across batches a chunk may be fetched again: memory is bounded by the settings, never by
 * the snapshot (the chunk-to-place map of one batch, and `concurrency` chunks fetched ahead).
 *
 * Each file is written to a new temporary file beside its final name, checked against its declared
 * size, given its metadata and renamed into place only when complete: a failure (a blob that does
 * not match, a size that does not add up, a full disk) leaves no half-written final file.
 *
 * @module
 */
import type { FileEntry } from "../../protocol/v3/tree.ts";
import type { BlobId, BlobSource } from "./blobs.ts";
import { RestoreError } from "./restore_errors.ts";
import { applyMetadata, type MetadataOptions } from "./restore_metadata.ts";

/** A file to restore into a folder the restorer made or checked (a real folder, not a link). */
export interface PlannedFile {
  entry: FileEntry;
  /** The folder's local path. */
  dir: string;
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
  partial: string;
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
  #spans: Span[] = [];
  #refs = 0;
  #files = 0;

  /** @param options see `FileBatchOptions` */
  constructor(options: FileBatchOptions) {
    this.#options = options;
  }

  /** Queues `file`, writing a batch whenever one fills. @throws {RestoreError} */
  async add(file: PlannedFile): Promise<void> {
    const partial = `${file.dir}/.restore-${crypto.randomUUID().slice(0, 12)}.tmp`;
    const open: OpenFile = { file, partial, written: 0, position: 0 };
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
        // Small steps on the file system are synchronous: each takes microseconds, and an
        // asynchronous one costs more than that in the hop to a worker thread and back.
        open.handle ??= Deno.openSync(open.partial, {
          read: true,
          write: true,
          createNew: true,
          mode: 0o600,
        });
        for (let i = from; i < to; i++) {
          this.#options.signal?.throwIfAborted();
          const id = entry.content[i];
          const place = places.get(id);
          let bytes: Uint8Array;
          if (place) {
            bytes = await readAt(place.open, place.offset, place.length);
            this.stats.chunksCopied++;
          } else {
            bytes = await fetches.next(id);
            places.set(id, { open, offset: open.written, length: bytes.length });
          }
          if (open.written + bytes.length > entry.size) {
            throw new Error(`its chunks hold more than its declared size of ${entry.size} bytes`);
          }
          await writeAt(open, open.written, bytes);
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

  /** Closes and removes every temporary file not yet in place (after a failure). */
  async discard(): Promise<void> {
    for (const open of this.#unfinished) {
      open.handle?.close();
      await Deno.remove(open.partial).catch(() => {});
    }
    this.#unfinished.clear();
    this.#spans = [];
  }

  async #finish(open: OpenFile): Promise<void> {
    open.handle!.close();
    open.handle = undefined;
    const { file } = open;
    const path = `${file.dir}/${file.entry.name}`;
    applyMetadata(open.partial, file.entry, this.#options.metadata);
    try {
      Deno.renameSync(open.partial, path);
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
    // Only now is there room for one more: at most `concurrency` gets in flight or held.
    this.#pending.shift();
    this.#fill();
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

async function readAt(open: OpenFile, offset: number, length: number): Promise<Uint8Array> {
  const file = open.handle!;
  await file.seek(offset, Deno.SeekMode.Start);
  open.position = offset + length;
  const bytes = new Uint8Array(length);
  for (let got = 0; got < length;) {
    const n = await file.read(bytes.subarray(got));
    if (n === null) throw new Error("a chunk written earlier in this restore is gone");
    got += n;
  }
  return bytes;
}

async function writeAt(open: OpenFile, offset: number, bytes: Uint8Array): Promise<void> {
  const file = open.handle!;
  if (open.position !== offset) await file.seek(offset, Deno.SeekMode.Start);
  open.position = offset + bytes.length;
  for (let done = 0; done < bytes.length;) done += await file.write(bytes.subarray(done));
}
