/**
 * Checkpoints off the event loop. SQLite's own checkpoint (copying the log's pages into the database
 * file) ends with an fsync of the database file on the calling thread, which here is the event loop:
 * every connection would wait for it. So automatic checkpoints are off, and this runs them with
 * `synchronous = OFF` (the copy only reaches the page cache), then fsyncs the database file
 * asynchronously. SQLite reuses the log from its start only when the next write transaction
 * begins, so every writer waits for `writable()` first: the log is never overwritten before the
 * pages copied out of it are durable.
 *
 * The log file keeps its size when SQLite starts it over, unless told otherwise: `journal_size_limit`
 * (see `LOG_SIZE_LIMIT_BYTES`) cuts it back at the first commit after a restart, and once a
 * checkpoint's pages are durable while the log is still larger than that (readers held it, then
 * the writes stopped), it is truncated at once. A checkpoint that a reader held back is tried again
 * after `CHECKPOINT_RETRY_MS`, writes or not, until it copies the whole log.
 *
 * @module
 */
import type { VersionIndex } from "./version_index.ts";
import { LOG_SIZE_LIMIT_BYTES } from "./schema.ts";

/** Changes made durable between checkpoints. */
export const CHECKPOINT_EVERY_CHANGES = 256;
/** Bytes of small files' content written between checkpoints. */
export const CHECKPOINT_EVERY_BYTES = 1024 * 1024;
/** How soon a checkpoint that a reader kept from copying the whole log is tried again (ms). */
export const CHECKPOINT_RETRY_MS = 1000;

/** When to checkpoint one index, and the barrier its writers pass. */
export class Checkpoints {
  readonly #index: VersionIndex;
  readonly #dbPath: string;
  readonly #onError: (error: unknown) => void;
  #file: Deno.FsFile | undefined;
  #syncing: Promise<void> | undefined;
  #failure: { error: unknown } | undefined;
  #changes = 0;
  #bytes = 0;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  /**
   * @param index the index whose connection checkpoints
   * @param dbPath its database file
   * @param onError told when a checkpoint fails (the log keeps everything; the next one retries)
   */
  constructor(index: VersionIndex, dbPath: string, onError: (error: unknown) => void) {
    this.#index = index;
    this.#dbPath = dbPath;
    this.#onError = onError;
  }

  /**
   * Resolves once a write transaction may begin: the pages of the last checkpoint are durable.
   *
   * @throws the error of that fsync, for good: the log must then never be reused.
   */
  async writable(): Promise<void> {
    await this.#syncing;
    if (this.#failure) throw this.#failure.error;
  }

  /**
   * Counts durable changes; once enough, checkpoints and starts the fsync of the database file.
   * Never throws: the changes are durable whatever a checkpoint does.
   */
  committed(changes: number, bytes: number): void {
    this.#changes += changes;
    this.#bytes += bytes;
    if (this.#syncing || this.#failure) return;
    if (this.#changes < CHECKPOINT_EVERY_CHANGES && this.#bytes < CHECKPOINT_EVERY_BYTES) return;
    this.#checkpoint();
  }

  /** Waits for a running fsync and closes the file. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retry);
    this.#retry = undefined;
    await this.#syncing;
    this.#file?.close();
    this.#file = undefined;
  }

  /** Checkpoints now, then fsyncs the database file off the event loop (see the module comment). */
  #checkpoint(): void {
    this.#changes = 0;
    this.#bytes = 0;
    clearTimeout(this.#retry);
    this.#retry = undefined;
    let whole = false;
    try {
      whole = this.#index.checkpointWithoutSync();
    } catch (error) {
      // A checkpoint cut short (a full disk) leaves the log whole and in use; what it copied is
      // synced below all the same.
      this.#onError(error);
    }
    try {
      this.#file ??= Deno.openSync(this.#dbPath, { read: true });
    } catch (error) {
      this.#failure = { error }; // copied pages that cannot be synced: the log must not be reused
      return;
    }
    this.#syncing = this.#file.syncData().then(
      () => {
        this.#syncing = undefined;
        this.#afterSync(whole);
      },
      (error) => void (this.#failure = { error }, this.#syncing = undefined),
    );
  }

  /**
   * Once a checkpoint's pages are durable: cuts a log grown past the limit (no write began since:
   * writers wait for this fsync), or tries again later if a reader held pages back.
   */
  #afterSync(whole: boolean): void {
    if (this.#closed) return;
    if (!whole) {
      this.#retryLater();
      return;
    }
    try {
      if (logSize(`${this.#dbPath}-wal`) <= LOG_SIZE_LIMIT_BYTES) return;
      if (!this.#index.truncateLog()) this.#retryLater(); // a reader came meanwhile
    } catch (error) {
      this.#onError(error); // the log stays as large as it is until SQLite restarts it
    }
  }

  #retryLater(): void {
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      if (!this.#syncing && !this.#failure && !this.#closed) this.#checkpoint();
    }, CHECKPOINT_RETRY_MS);
  }
}

function logSize(path: string): number {
  try {
    return Deno.statSync(path).size;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return 0;
    throw error;
  }
}
