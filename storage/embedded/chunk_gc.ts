/**
 * Garbage collection of the repository, in bounded steps, each a short durable change of the
 * index, so that serving never waits long:
 *
 * 1. the lists of removed versions that nobody reads any more are forgotten;
 * 2. blobs nothing names (no version, tree or snapshot), no reader needs, no upload in flight
 *    counts on (`ChunkPins`) and no open snapshot session may rely on (`SessionPins`: for the
 *    grace period at most) are removed from the index, again while a pass removes a tree (what it
 *    named is released); blobs of a session that never committed stay for the grace period
 *    (`blobGraceMs`);
 * 3. packs that hold no indexed chunk (and that no open session wrote) are removed: their rows
 *    first, durably, then their objects (uncharging what sessions dropped in them);
 * 4. packs mostly garbage (live bytes under `repackBelow` of their size) are repacked: their
 *    remaining chunks copied into new packs, durably, then pointed at there in one durable change,
 *    then the old pack removed. A reader that met the old pack gone looks its chunk up again.
 *
 * Why nothing needed is lost: a chunk is removed only in the same synchronous step that finds it
 * unnamed by every version, unread and unpinned; uploads pin a chunk in the same synchronous step
 * that finds it, and readers are counted in before their first await. An upload's own new chunks
 * are in packs the index does not know until its commit, so nothing here sees them. A snapshot
 * session open longer than the grace period may lose blobs it was told are there: its commit
 * checks what the snapshot names in the same transaction that inserts it, and answers the ids
 * gone (234), never leaving a snapshot dangling.
 *
 * @module
 */
import type { FolderStore } from "../../objects/folder_store.ts";
import type { ObjectStore } from "../../objects/object_store.ts";
import { toHex } from "../../common/hex.ts";
import { CorruptStoreError } from "../storage.ts";
import { PACKS_PREFIX, PackWriter } from "../../repository/pack_writer.ts";
import type { ChangeSize } from "./index_writes.ts";
import type { PackRow } from "./chunk_catalog.ts";
import type { GarbageStep } from "./options.ts";
import type { VersionIndex } from "./version_index.ts";
import { DEFAULT_BLOB_GRACE_MS } from "../snapshots.ts";

/** What garbage collection works with, given by the engine. */
export interface GarbageCollectionContext {
  index: VersionIndex;
  store: ObjectStore;
  /** Makes one synchronous change of the index durable (`IndexWrites.durably`). */
  durably<T>(change: () => T, size: ChangeSize | ((result: T) => ChangeSize)): Promise<T>;
  now(): number;
  /** Packs written by repacking are cut at this size. */
  packTargetBytes: number;
  /** Awaited at each step a crash test may stop at. */
  onStep?(step: GarbageStep): void | Promise<void>;
  /** Blobs of sessions that never committed are kept this long. @default DEFAULT_BLOB_GRACE_MS */
  blobGraceMs?: number;
}

/** How far garbage collection goes. */
export interface GarbageCollectionOptions {
  /** Rows per step. @default 1000 */
  batch?: number;
  /** A pack is repacked when its live bytes are under this share of its size. @default 0.5 */
  repackBelow?: number;
  /** Packs repacked per run at most. @default 64 */
  maxRepacks?: number;
}

/** What one run did. */
export interface GarbageCollectionReport {
  /** Chunks removed from the index (no version named them, nobody needed them). */
  chunksRemoved: number;
  /** Packs removed because they held no indexed chunk. */
  packsRemoved: number;
  /** Packs whose live chunks were copied into new packs, then removed. */
  packsRepacked: number;
  /** Packs removed or repacked away, by their user (what a user's `Prune` answers). */
  packsByUser: Map<number, number>;
}

/** Runs the four steps once; see the module comment. */
export async function collectGarbage(
  ctx: GarbageCollectionContext,
  options: GarbageCollectionOptions = {},
): Promise<GarbageCollectionReport> {
  const batch = options.batch ?? 1000;
  const chunks = ctx.index.chunks;
  const report: GarbageCollectionReport = {
    chunksRemoved: 0,
    packsRemoved: 0,
    packsRepacked: 0,
    packsByUser: new Map(),
  };
  const countPack = (userId: number) =>
    report.packsByUser.set(userId, (report.packsByUser.get(userId) ?? 0) + 1);
  for (;;) {
    const forgotten = await ctx.durably(
      () => chunks.forgetReleased(batch),
      (count) => ({ changes: count > 0 ? 1 : 0, bytes: 0 }),
    );
    if (forgotten < batch) break;
  }
  const graceMs = ctx.blobGraceMs ?? DEFAULT_BLOB_GRACE_MS;
  // Again while a pass removed something: a tree removed releases what it named (the cascade of
  // schema 6), which may sit below where the pass had got to.
  for (let passRemoved = 1; passRemoved > 0;) {
    passRemoved = 0;
    for (let after: number | undefined = 0; after !== undefined;) {
      const step: { removed: number; last?: number } = await ctx.durably(
        () =>
          ctx.index.transaction(() =>
            chunks.removeUnreferenced(after!, batch, ctx.now() - graceMs)
          ),
        (result) => ({ changes: result.removed > 0 ? 1 : 0, bytes: 0 }),
      );
      passRemoved += step.removed;
      after = step.last;
    }
    report.chunksRemoved += passRemoved;
  }
  report.packsRemoved += await removeEmptyPacks(ctx, batch, countPack);
  const candidates = chunks.wastefulPacks(options.repackBelow ?? 0.5, options.maxRepacks ?? 64);
  for (const pack of candidates) {
    if (await repack(ctx, pack)) {
      report.packsRepacked++;
      countPack(pack.userId);
    }
  }
  return report;
}

/** Step 3: unindexes empty packs durably, then removes their objects. */
async function removeEmptyPacks(
  ctx: GarbageCollectionContext,
  batch: number,
  counted: (userId: number) => void,
): Promise<number> {
  let removed = 0;
  for (;;) {
    const packs = await ctx.durably(
      () => ctx.index.transaction(() => ctx.index.chunks.removeEmptyPacks(batch)),
      (result) => ({ changes: result.length > 0 ? 1 : 0, bytes: 0 }),
    );
    if (packs.length > 0) await ctx.onStep?.("empty-unindexed");
    for (const { name, userId } of packs) {
      await ctx.store.delete(name);
      counted(userId);
    }
    removed += packs.length;
    if (packs.length < batch) return removed;
  }
}

/** Step 4 for one pack; returns whether its object was removed. */
async function repack(ctx: GarbageCollectionContext, pack: PackRow): Promise<boolean> {
  const chunks = ctx.index.chunks;
  const blobs = chunks.blobsIn(pack.packNo);
  const writer = new PackWriter(ctx.store, { targetBytes: ctx.packTargetBytes });
  let copies;
  try {
    const bytes = await ctx.store.get(pack.name); // one read of the pack, not one per chunk
    for (const blob of blobs) {
      const stored = bytes.subarray(blob.offset, blob.offset + blob.storedLength);
      if (stored.length !== blob.storedLength) {
        throw new CorruptStoreError(`pack ${pack.name} ends inside chunk ${toHex(blob.id)}`);
      }
      await writer.add(blob.id, { stored, compression: blob.compression }, blob.rawLength);
    }
    copies = await writer.finish();
    await ctx.onStep?.("repack-written");
  } catch (error) {
    await writer.abort();
    throw error;
  }
  let emptied: boolean;
  try {
    emptied = await ctx.durably(
      () => ctx.index.transaction(() => chunks.moveBlobs(pack, copies, ctx.now())),
      { changes: 1, bytes: 0 },
    );
  } catch (error) {
    await Promise.all(copies.map((copy) => ctx.store.delete(copy.name).catch(() => {})));
    throw error;
  }
  await ctx.onStep?.("repack-indexed");
  if (emptied) await ctx.store.delete(pack.name);
  return emptied;
}

/**
 * Removes what uploads cut off by a crash left in the repository: temp files, and packs put before
 * their commit. Run before serving, when no upload is under way.
 *
 * @returns how many packs were removed.
 */
export async function sweepUnindexedPacks(
  store: FolderStore,
  index: VersionIndex,
): Promise<number> {
  await store.sweep();
  let removed = 0;
  for await (const { name } of store.list(PACKS_PREFIX)) {
    if (index.chunks.indexed(name)) continue;
    await store.delete(name);
    removed++;
  }
  return removed;
}
