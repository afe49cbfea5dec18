/**
 * When the S3 engine (`engine.ts`) collects garbage: one run of `runChunkGc` (`chunk_gc.ts`) at a
 * time on this server (a call while one runs shares it), and for a user's `Prune` one more run
 * after the one under way, shared by the Prunes that come before it starts (a burst of Prunes is
 * one run, not one each). A run is given the engine's bucket, options and a way to apply retention
 * again to a name whose record repack rewrote.
 *
 * @module
 */
import type { ChunkGcReport, S3StorageOptions } from "./options.ts";
import type { CommitContext } from "./commits.ts";
import { historyOf } from "./reads.ts";
import { pruneHistory } from "./maintenance.ts";
import { runChunkGc } from "./chunk_gc.ts";

/** What the runs work with, given by the engine. */
export interface ChunkGcRunsContext {
  /** The engine's housekeeping: its bucket, prefix, retention and usage estimates. */
  hk: CommitContext;
  /** The engine's options (`serverTag`, `gc`, `packTargetBytes`, `blobGraceMs`, ...). */
  options: S3StorageOptions;
}

/** See the module comment. */
export class ChunkGcRuns {
  readonly #hk: CommitContext;
  readonly #options: S3StorageOptions;
  /** The garbage collection run under way on this server, if any. */
  #gcRun: Promise<ChunkGcReport> | undefined;
  /** The run Prunes asked for, not started yet (`collectNow`). */
  #nextRun: Promise<ChunkGcReport> | undefined;

  /** @param ctx what the runs work with */
  constructor(ctx: ChunkGcRunsContext) {
    this.#hk = ctx.hk;
    this.#options = ctx.options;
  }

  /** One run of `runChunkGc`; a call while one runs shares it. */
  collect(): Promise<ChunkGcReport> {
    this.#gcRun ??= runChunkGc({
      client: this.#hk.client,
      prefix: this.#hk.prefix,
      owner: this.#options.serverTag,
      gc: this.#options.gc ?? {},
      packTargetBytes: this.#options.packTargetBytes,
      blobGraceMs: this.#options.blobGraceMs,
      // A record repack rewrote may have been deleted by retention just before: delete it again.
      reprune: async (userId, name) => {
        const scope = { client: this.#hk.client, prefix: this.#hk.prefix, userId };
        const history = await historyOf(scope, name);
        if (history) await pruneHistory(this.#hk, history);
      },
      onError: this.#options.onBackgroundError,
    }).finally(() => this.#gcRun = undefined);
    return this.#gcRun;
  }

  /**
   * A user's `Prune`: a run under way may have passed what was just forgotten, so one more after
   * it; calls before that one starts share it (a burst of Prunes is one run, not one each).
   */
  collectNow(): Promise<ChunkGcReport> {
    this.#nextRun ??= (async () => {
      await this.#gcRun?.catch(() => undefined);
      // Calls from now on may follow a forget this run's mark has passed: theirs is the next one.
      this.#nextRun = undefined;
      const report = await this.collect();
      this.#hk.usage.forget();
      return report;
    })();
    return this.#nextRun;
  }
}
