/**
 * Group commit of uploads, at both levels: uploads that finish while the log's fsync runs wait
 * together, go into the index in one transaction (each change on its own, so one refused leaves
 * the others), and are made durable by the single next fsync. One transaction for many uploads
 * also writes each index page to the log once, not once per upload.
 *
 * @module
 */
import type { Checkpoints } from "./checkpoints.ts";
import { inlineBytes, type PutChange, type VersionIndex } from "./version_index.ts";
import type { WalSync } from "./wal_sync.ts";

interface Queued {
  change: PutChange;
  done: PromiseWithResolvers<string[]>;
}

/** Puts into one index, batched behind its fsyncs. */
export class CommitQueue {
  readonly #index: VersionIndex;
  readonly #walSync: WalSync;
  readonly #checkpoints: Checkpoints;
  readonly #now: () => number;
  readonly #applied: (change: PutChange) => void | Promise<void>;
  readonly #queued: Queued[] = [];
  #cycling = false;

  /**
   * @param index where changes go
   * @param walSync makes them durable
   * @param checkpoints the barrier before each transaction, told of each durable batch
   * @param now the clock stamped on versions a change ends
   * @param applied called for each change in the index, in the same step (its synchronous part),
   *   before the fsync that makes it durable; awaited
   */
  constructor(
    index: VersionIndex,
    walSync: WalSync,
    checkpoints: Checkpoints,
    now: () => number,
    applied: (change: PutChange) => void | Promise<void>,
  ) {
    this.#index = index;
    this.#walSync = walSync;
    this.#checkpoints = checkpoints;
    this.#now = now;
    this.#applied = applied;
  }

  /**
   * Puts a change into the index with the next batch; resolves once it is durable.
   *
   * @returns the data files the change freed.
   * @throws what the index refused the change for (nothing of it is stored).
   */
  put(change: PutChange): Promise<string[]> {
    const done = Promise.withResolvers<string[]>();
    this.#queued.push({ change, done });
    if (!this.#cycling) this.#cycle();
    return done.promise;
  }

  /** Applies what is queued, fsyncs, and again while more arrived meanwhile. */
  async #cycle(): Promise<void> {
    this.#cycling = true;
    try {
      while (this.#queued.length > 0) {
        try {
          await this.#checkpoints.writable();
        } catch (error) {
          for (const queued of this.#queued.splice(0)) queued.done.reject(error);
          continue;
        }
        const batch = this.#queued.splice(0);
        let results: Array<{ freed: string[] } | { error: unknown }>;
        try {
          results = this.#index.putEach(batch.map((queued) => queued.change), this.#now());
        } catch (error) {
          for (const queued of batch) queued.done.reject(error);
          continue;
        }
        const stored: Array<{ queued: Queued; freed: string[] }> = [];
        results.forEach((result, i) => {
          if ("error" in result) batch[i].done.reject(result.error);
          else stored.push({ queued: batch[i], freed: result.freed });
        });
        if (stored.length === 0) continue;
        try {
          await Promise.all(stored.map(({ queued }) => this.#applied(queued.change)));
          await this.#walSync.durable(stored.length);
        } catch (error) {
          for (const { queued } of stored) queued.done.reject(error);
          continue;
        }
        for (const { queued, freed } of stored) queued.done.resolve(freed);
        const changes = stored.map(({ queued }) => queued.change);
        this.#checkpoints.committed(changes.length, inlineBytes(changes));
      }
    } finally {
      this.#cycling = false;
    }
  }
}
