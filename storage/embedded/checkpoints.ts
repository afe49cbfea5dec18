/**
 * Checkpoints off the event loop. SQLite's own checkpoint (copying the log's pages into the database
 * file) ends with an fsync of the database file on the calling thread, which here is the event loop:
 * every connection would wait for it. So automatic checkpoints are off, and this runs them with
 * `synchronous = OFF` (the copy only reaches the page cache), then fsyncs the database file
 * asynchronously. SQLite reuses the log from its start only when the next write transaction
 * begins, so every writer waits for `writable()` first: the log is never overwritten before the
 * pages copied out of it are durable.
 *
 * @module
 */
import type { VersionIndex } from "./version_index.ts";

/** Changes made durable between checkpoints. */
export const CHECKPOINT_EVERY_CHANGES = 256;
/** Bytes of small files' content written between checkpoints. */
export const CHECKPOINT_EVERY_BYTES = 1024 * 1024;

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
    this.#changes = 0;
    this.#bytes = 0;
    try {
      this.#index.checkpointWithoutSync();
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
      () => void (this.#syncing = undefined),
      (error) => void (this.#failure = { error }, this.#syncing = undefined),
    );
  }

  /** Waits for a running fsync and closes the file. */
  async close(): Promise<void> {
    await this.#syncing;
    this.#file?.close();
    this.#file = undefined;
  }
}
