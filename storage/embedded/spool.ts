/**
 * Pages written at one pace and read at another: a producer appends them at the server's speed to
 * a scratch file while a consumer reads them at the client's, from the first page on. When there
 * is no scratch file to be had (a full disk, or the server's budget of scratch bytes spent), pages
 * wait in memory instead, a few at most: the producer then goes at the consumer's pace.
 *
 * @module
 */
import { writeAll } from "../../io/byte_stream.ts";
import { LimitExceededError } from "../storage.ts";

/** Bytes read from the spool per page. */
const SPOOL_PAGE_BYTES = 256 * 1024;

/** Pages held in memory, without a scratch file, before the producer waits for the consumer. */
const MEMORY_PAGES = 4;

/**
 * How long a producer may wait for its reader once its pages go to memory, in milliseconds: the
 * producer holds a read snapshot of the index (and so its log) while it waits, which a client
 * reading at the rate floor would hold for hours.
 */
export const MEMORY_WAIT_LIMIT_MS = 60_000;

/** Two handles on one unlinked scratch file: one to append, one to read. */
export interface ScratchFile {
  writer: Deno.FsFile;
  reader: Deno.FsFile;
}

/**
 * Bytes of scratch files that all spools of a server may hold at once: without a bound, lists that
 * are never read would hold disk in proportion to connections times list size, charged to nobody
 * (docs/storage.md). A spool takes its pages' bytes before writing them and gives them back when
 * it is disposed.
 */
export class ScratchBudget {
  readonly #limit: number;
  #used = 0;

  /** @param limit bytes that may be held at once; 0 holds none (every spool uses memory) */
  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Bytes held now. */
  get used(): number {
    return this.#used;
  }

  /** True if there are bytes left to take. */
  get hasRoom(): boolean {
    return this.#used < this.#limit;
  }

  /** Takes `bytes` if they fit under the limit; false (nothing taken) if not. */
  take(bytes: number): boolean {
    if (this.#used + bytes > this.#limit) return false;
    this.#used += bytes;
    return true;
  }

  /** Gives back bytes taken. */
  give(bytes: number): void {
    this.#used -= bytes;
  }
}

/** Pages appended by `append` and `end`, read back in order by `pages`. */
export class Spool implements Disposable {
  /** Where pages go while the disk takes them; `undefined` once it stopped (or without a file). */
  #writer: Deno.FsFile | undefined;
  readonly #reader: Deno.FsFile | undefined;
  readonly #budget: ScratchBudget;
  /** Bytes taken from the budget, given back when disposed. */
  #taken = 0;
  /** Bytes in the file that may be read: a page counts once written whole. */
  #written = 0;
  /** Pages that came after the file failed (or without one), in order. */
  readonly #memory: Uint8Array[] = [];
  #ended = false;
  #failure: { error: unknown } | undefined;
  #closed = false;
  #wakeReader: PromiseWithResolvers<void> | undefined;
  #wakeWriter: PromiseWithResolvers<void> | undefined;
  readonly #memoryWaitLimitMs: number;
  /** When pages started going to memory (the producer's waits count from then). */
  #inMemorySince: number | undefined;

  /**
   * @param file the scratch file, if one could be made; the spool closes both handles
   * @param budget the server's scratch bytes: a page that does not fit goes to memory, and so do
   *   all after it (pages are read in order); default: no limit
   * @param memoryWaitLimitMs see `MEMORY_WAIT_LIMIT_MS`
   */
  constructor(
    file: ScratchFile | undefined,
    budget = new ScratchBudget(Infinity),
    memoryWaitLimitMs = MEMORY_WAIT_LIMIT_MS,
  ) {
    this.#writer = file?.writer;
    this.#reader = file?.reader;
    this.#budget = budget;
    this.#memoryWaitLimitMs = memoryWaitLimitMs;
  }

  /** True while pages go to the scratch file; false once they wait in memory. */
  get onDisk(): boolean {
    return this.#writer !== undefined;
  }

  /** True once closed: whatever is appended now is dropped. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Appends a page; it can be read once this resolves. Ignored once the spool is closed.
   *
   * @throws {LimitExceededError} if, with pages in memory, the reader has not made room within
   *   `MEMORY_WAIT_LIMIT_MS` of the first one going there.
   */
  async append(bytes: Uint8Array): Promise<void> {
    if (this.#closed) return;
    if (this.#writer && !this.#budget.take(bytes.length)) this.#stopWriting();
    if (this.#writer) {
      this.#taken += bytes.length;
      try {
        await writeAll(this.#writer, bytes);
        this.#written += bytes.length;
        this.#wake();
        return;
      } catch {
        // No room on the disk: what follows waits in memory (a part written is never read).
        this.#stopWriting();
      }
    }
    this.#inMemorySince ??= performance.now();
    while (this.#memory.length >= MEMORY_PAGES && !this.#closed) {
      const left = this.#inMemorySince + this.#memoryWaitLimitMs - performance.now();
      if (left <= 0) {
        throw new LimitExceededError(
          `a list read too slowly: past the scratch budget its snapshot of the index is held at ` +
            `most ${this.#memoryWaitLimitMs / 1000} s`,
        );
      }
      const wake = this.#wakeWriter = Promise.withResolvers();
      const timer = setTimeout(wake.resolve, left);
      await wake.promise;
      clearTimeout(timer);
    }
    if (this.#closed) return;
    this.#memory.push(bytes);
    this.#wake();
  }

  /** No more bytes will come: `pages` ends after the last one, or throws `error` if given. */
  end(error?: unknown): void {
    this.#ended = true;
    if (error !== undefined) this.#failure = { error };
    this.#wake();
  }

  /** Everything appended, in order, as it becomes readable. */
  async *pages(): AsyncGenerator<Uint8Array> {
    let read = 0;
    try {
      while (!this.#closed) {
        if (this.#failure) throw this.#failure.error;
        if (read < this.#written) {
          const page = new Uint8Array(Math.min(SPOOL_PAGE_BYTES, this.#written - read));
          const count = await this.#reader!.read(page);
          if (count === null) throw new Error("the list's scratch file ended early");
          read += count;
          yield page.subarray(0, count);
        } else if (this.#memory.length > 0) {
          const page = this.#memory.shift()!;
          this.#wakeWriter?.resolve();
          yield page;
        } else if (this.#ended) {
          return;
        } else {
          this.#wakeReader = Promise.withResolvers();
          await this.#wakeReader.promise;
        }
      }
    } finally {
      this[Symbol.dispose]();
    }
  }

  /** Closes the file; a producer still appending stops. */
  [Symbol.dispose](): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#writer) closeQuietly(this.#writer);
    if (this.#reader) closeQuietly(this.#reader);
    this.#budget.give(this.#taken);
    this.#taken = 0;
    this.#wake();
    this.#wakeWriter?.resolve();
  }

  #stopWriting(): void {
    closeQuietly(this.#writer!);
    this.#writer = undefined;
  }

  #wake(): void {
    this.#wakeReader?.resolve();
    this.#wakeReader = undefined;
  }
}

function closeQuietly(file: Deno.FsFile): void {
  try {
    file.close();
  } catch {
    // already closed
  }
}
