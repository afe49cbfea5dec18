/**
 * A user's `Prune` on S3: a run of the bucket's garbage collection under the prune lock, gated as
 * the embedded store's is (`PruneGate`): no run when one this store asked for finished less than
 * `pruneGapMs` (a minute) ago and nothing was forgotten or dropped through this server since. A client
 * looping Prune once made every call a whole-bucket run; now a loop costs one run a minute (a
 * forget through another server is seen at the latest then). Prunes at the same time share one run
 * (and the engine's next run is shared with its other callers: `collectGarbageNow`).
 *
 * @module
 */
import { DeleteRefusedError } from "../errors.ts";
import { PRUNE_GAP_MS, PruneGate } from "../prune_gate.ts";
import { PruneBusyError, type PruneReport } from "../snapshots.ts";
import type { ObjectStore } from "../../objects/object_store.ts";
import { packsFolder } from "./keys.ts";

/** What a prune works with, given by the snapshot store. */
export interface S3PruneContext {
  objects: ObjectStore;
  appendOnlyOf(userId: number): boolean;
  /** The engine's next run (see `S3SnapshotStoreContext.collectGarbageNow`). */
  collectGarbageNow(): Promise<{ held: boolean }>;
  /** The user's usage, listed now. */
  usage(userId: number): Promise<number>;
  now(): number;
  /** How long a finished run answers for. @default PRUNE_GAP_MS */
  pruneGapMs?: number;
}

/** See the module comment. */
export class S3SnapshotPrune {
  readonly #ctx: S3PruneContext;
  readonly #gate: PruneGate;
  /** The run under way for prunes, and the gate's generation when it was asked for. */
  #running: { generation: number; run: Promise<void> } | undefined;

  /** @param ctx what it works with */
  constructor(ctx: S3PruneContext) {
    this.#ctx = ctx;
    this.#gate = new PruneGate(ctx.pruneGapMs ?? PRUNE_GAP_MS, () => ctx.now());
  }

  /** A snapshot was forgotten or a blob dropped through this server: the next prune runs. */
  changed(): void {
    this.#gate.changed();
  }

  /**
   * Packs the run finds unreferenced are doomed (a tombstone) and deleted by a run at least the
   * grace period later (docs/s3_repository_plan.md §3.3): what this answers is what the user's
   * listed usage dropped by now, the packs swept or repacked included; nothing when gated.
   *
   * @throws {DeleteRefusedError} for an append-only account
   * @throws {PruneBusyError} if another server holds the bucket's prune lock
   */
  async prune(userId: number): Promise<PruneReport> {
    if (this.#ctx.appendOnlyOf(userId)) throw new DeleteRefusedError(`packs of user ${userId}`);
    if (!this.#gate.needed()) return { bytesFreed: 0, packsRemoved: 0 };
    const packsBefore = await this.#countPacks(userId);
    const before = await this.#ctx.usage(userId);
    await this.#collect();
    const after = await this.#ctx.usage(userId);
    const packsRemoved = Math.max(0, packsBefore - await this.#countPacks(userId));
    return { bytesFreed: Math.max(0, before - after), packsRemoved };
  }

  /** The run this prune needs: none if gated now, a run started since nothing changed shared. */
  #collect(): Promise<void> {
    if (!this.#gate.needed()) return Promise.resolve();
    const generation = this.#gate.generation;
    if (this.#running?.generation === generation) return this.#running.run;
    const run = (async () => {
      const { held } = await this.#ctx.collectGarbageNow();
      if (!held) {
        throw new PruneBusyError(
          "another server holds the bucket's prune lock (it is collecting garbage now): nothing " +
            "was pruned; try again once it is done",
        );
      }
      this.#gate.ran(generation);
    })().finally(() => {
      if (this.#running?.run === run) this.#running = undefined;
    });
    this.#running = { generation, run };
    return run;
  }

  async #countPacks(userId: number): Promise<number> {
    let count = 0;
    for await (const _ of this.#ctx.objects.list(packsFolder(userId))) count++;
    return count;
  }
}
