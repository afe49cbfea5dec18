/**
 * The embedded engine's housekeeping: retention's pruning of past versions in batches, then
 * garbage collection of chunks and packs no version needs (`chunk_gc.ts`), one run at a time.
 *
 * @module
 */
import type { FolderStore } from "../../objects/folder_store.ts";
import { collectGarbage, type GarbageCollectionReport } from "./chunk_gc.ts";
import type { DataFiles } from "./data_files.ts";
import type { IndexWrites } from "./index_writes.ts";
import type { EmbeddedStorageOptions } from "./options.ts";
import type { VersionIndex } from "./version_index.ts";

/** Past versions removed per pruning transaction. */
const PRUNE_BATCH = 500;

/** What housekeeping works with, given by the engine. */
export interface HousekeepingContext {
  index: VersionIndex;
  writes: IndexWrites;
  dataFiles: DataFiles;
  store: FolderStore;
  packTargetBytes: number;
  now(): number;
  onGarbageStep: EmbeddedStorageOptions["onGarbageStep"];
  blobGraceMs: number | undefined;
}

/** See the module comment. */
export class Housekeeping {
  readonly #ctx: HousekeepingContext;
  #collecting: Promise<GarbageCollectionReport> | undefined;

  /** @param ctx what it works with */
  constructor(ctx: HousekeepingContext) {
    this.#ctx = ctx;
  }

  /**
   * Removes the past versions that retention no longer keeps, in batches, then collects garbage.
   *
   * @returns how many versions were removed.
   */
  async prune(): Promise<number> {
    // One turn of the event loop first: a prune with nothing to do would otherwise finish without
    // any I/O, and a caller looping on it would never let a request in.
    await new Promise((resolve) => setTimeout(resolve, 0));
    const { index, writes, dataFiles } = this.#ctx;
    let total = 0;
    for (;;) {
      const { freed, removed } = await writes.durably(
        () => index.prune(this.#ctx.now(), PRUNE_BATCH),
        (pruned) => ({ changes: pruned.removed, bytes: 0 }),
      );
      total += removed;
      await dataFiles.remove(freed);
      if (removed < PRUNE_BATCH) break;
    }
    await this.collectGarbage();
    return total;
  }

  /**
   * Removes chunks and packs no version needs, and repacks packs mostly garbage (`chunk_gc.ts`);
   * a call while one runs waits for that one.
   */
  collectGarbage(): Promise<GarbageCollectionReport> {
    const ctx = this.#ctx;
    this.#collecting ??= collectGarbage({
      index: ctx.index,
      store: ctx.store,
      durably: (change, size) => ctx.writes.durably(change, size),
      now: () => ctx.now(),
      packTargetBytes: ctx.packTargetBytes,
      onStep: ctx.onGarbageStep,
      blobGraceMs: ctx.blobGraceMs,
    }).finally(() => this.#collecting = undefined);
    return this.#collecting;
  }

  /**
   * A run of garbage collection that starts now (a user's `Prune`): a run under way may have
   * passed what was just forgotten, so it is waited for, then one more runs (calls meanwhile share
   * that one). Resolves the reports of both.
   */
  async collectGarbageNow(): Promise<GarbageCollectionReport[]> {
    const running = this.#collecting;
    const earlier = running ? await running.catch(() => undefined) : undefined;
    const now = await this.collectGarbage();
    return earlier ? [earlier, now] : [now];
  }
}
