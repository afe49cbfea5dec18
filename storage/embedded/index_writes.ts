/**
 * Changes of the index made durable, in the order the log needs: a write transaction begins only
 * once the last checkpoint's pages are durable (`Checkpoints`), and is acknowledged only after the
 * fsync of the log that follows it (`WalSync`). Uploads go through the group commit
 * (`CommitQueue`), many per fsync; any other change (a delete, a prune's batch, an import's batch)
 * on its own.
 *
 * @module
 */
import { Checkpoints } from "./checkpoints.ts";
import { CommitQueue } from "./commit_queue.ts";
import type { PutChange, VersionIndex } from "./version_index.ts";
import { WalSync, type WalSyncStats } from "./wal_sync.ts";

/** How much a change wrote, for the next checkpoint. */
export interface ChangeSize {
  /** Uploads and deletes it carried; 0: nothing to make durable. */
  changes: number;
  /** Bytes of small files' content it wrote into the log. */
  bytes: number;
}

/** What `IndexWrites` is told and asks. */
export interface IndexWritesOptions {
  /** The clock stamped on versions a change ends. */
  now(): number;
  /** Told when a checkpoint fails (the log keeps everything; the next one retries). */
  onCheckpointError(error: unknown): void;
  /** Called for each upload in the index, before the fsync that makes it durable; awaited. */
  applied(change: PutChange): void | Promise<void>;
}

/** The one way into an index for changes: checkpoints, group commit and log fsyncs together. */
export class IndexWrites {
  readonly #walSync: WalSync;
  readonly #checkpoints: Checkpoints;
  readonly #commits: CommitQueue;

  /**
   * @param index where changes go
   * @param indexPath its database file (the log is `indexPath-wal`)
   */
  constructor(index: VersionIndex, indexPath: string, options: IndexWritesOptions) {
    this.#walSync = new WalSync(indexPath);
    this.#checkpoints = new Checkpoints(index, indexPath, options.onCheckpointError);
    this.#commits = new CommitQueue(
      index,
      this.#walSync,
      this.#checkpoints,
      options.now,
      options.applied,
    );
  }

  /** Resolves once what the log holds now is durable (at open: the schema, if new). */
  syncLog(): Promise<void> {
    return this.#walSync.durable(0);
  }

  /**
   * Puts an upload's change into the index with the next group; resolves once it is durable.
   *
   * @returns the data files the change freed.
   * @throws what the index refused the change for (nothing of it is stored).
   */
  put(change: PutChange): Promise<string[]> {
    return this.#commits.put(change);
  }

  /**
   * Makes one change of the index (a synchronous transaction) durable: after the last checkpoint's
   * fsync, before the fsync of the log that follows it.
   *
   * @param size how much the change wrote, or how to tell from its result
   * @throws what `change` throws (nothing is made durable), or the error of an fsync.
   */
  async durably<T>(change: () => T, size: ChangeSize | ((result: T) => ChangeSize)): Promise<T> {
    await this.#checkpoints.writable();
    const result = change();
    const { changes, bytes } = typeof size === "function" ? size(result) : size;
    if (changes === 0) return result;
    await this.#walSync.durable(changes);
    this.#checkpoints.committed(changes, bytes);
    return result;
  }

  /** Counters of the group commit since start. */
  stats(): WalSyncStats {
    return this.#walSync.stats();
  }

  /** Waits for a running checkpoint's fsync, then closes the files held. */
  async close(): Promise<void> {
    await this.#checkpoints.close();
    this.#walSync.close();
  }
}
