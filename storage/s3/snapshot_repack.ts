/**
 * Repack of snapshot packs (docs/storage.md "Snapshots on S3"), inside a GC run between its sweep
 * and its doom: the snapshot packs the plan picked (`snapshot_repack_plan.ts`: at least G and the
 * blob grace old, in no tombstone, not pinned, live share under `repackBelow`) have their live
 * blobs (`snapshot_repack_mark.ts`) copied into new packs, indexed as a snapshot session indexes
 * its own, and are then doomed by the run like any unreferenced pack: deleted by a later run's
 * sweep, at least G later, if its fresh mark finds nothing needing them.
 *
 * Per user, as a snapshot session does (W2, W3, W5):
 *
 * 1. **copy**: a session of its own with an `UploadPin` (its new packs `p/USER/SESSION.N` are
 *    young, covered by the pin and the blob grace); each old pack's live blobs read by ranged
 *    GETs, each plain one checked against its id (a sealed one by its length: only the client can
 *    open it), then added to a `PackWriter` as stored. A pack that is gone, damaged, or holds a
 *    live tree whose references the mark did not find is left as it is (`onError` is told);
 * 2. **index**: `t/USER/SESSION.1` (the references of the trees copied, from the mark), then
 *    `x/USER/snap.SESSION.1` (where each copy is, its kind), both signed at the time the pin
 *    allows (W3): a run paused past the store's skew lands neither.
 *
 * A failure before the index PUT removes the new packs (nothing names them); after it, the copies
 * are indexed and stay, and the old packs are simply not doomed by this run (a later run sees both
 * places and dooms the old one: a copy in a pack that stays is enough).
 *
 * Memory: one old pack's live bytes, the writer's packs (two at most: `putsInFlight` 1), and the
 * entries and references of the blobs copied.
 *
 * @module
 */
import { toHex } from "../../common/hex.ts";
import type { S3Client } from "../../objects/s3/s3_client.ts";
import { S3ObjectStore } from "../../objects/s3_store.ts";
import type { WrittenPack } from "../../repository/pack_writer.ts";
import { CorruptStoreError } from "../storage.ts";
import { ChunkTableBuilder, encodeChunkTable, sortedById } from "./chunk_list.ts";
import type { ChunkLocation } from "./chunk_entry.ts";
import type { GcLock } from "./gc_lock.ts";
import { packsFolder } from "./keys.ts";
import type { ChunkGcReport, ChunkGcStep, S3GcOptions } from "./options.ts";
import { openRepackSession, readLive, type RepackSession } from "./repack_copy.ts";
import { type SnapshotObjects, treeRefsOf } from "./snapshot_mark.ts";
import { compare, encodeTreeRefs, sessionObjects, type TreeRefs } from "./snapshot_objects.ts";

/** What a snapshot repack works with: the run's. */
export interface SnapshotRepackContext {
  client: S3Client;
  /** The store's key prefix. */
  prefix: string;
  gc: S3GcOptions;
  /** Checked before the index PUTs. */
  lock: GcLock;
  /** What the mark read (the references of the trees copied). */
  objects: SnapshotObjects;
  /** The live blobs of each pack to repack (`p/USER/NAME`), by offset. */
  live: ReadonlyMap<string, readonly ChunkLocation[]>;
  /** New packs are cut at this size. */
  packTargetBytes: number;
  /** `copiedChunks` and `snapshotPacksRepacked` are counted in it. */
  report: ChunkGcReport;
  /** Awaited after the copies (`repacked`) and after the index (`rewritten`). */
  step(name: ChunkGcStep): Promise<void>;
  /** Told of a pack left as it is. */
  onError(error: unknown): void;
}

/** One user's part. */
interface UserRepack extends RepackSession {
  userId: number;
  /** Hex id → the blob given to the writer (its kind, its references if a tree). */
  adding: Map<string, { kind: "data" | "tree"; refs?: Uint8Array }>;
  /** Old packs (relative to `p/USER/`) whose every live blob went to the writer. */
  copied: string[];
}

/**
 * Repacks `packs` (`p/USER/NAME`); see the module comment.
 *
 * @returns the old packs to doom: every live blob copied and indexed.
 * @throws {S3Error} if the store failed a request, {GcLockLostError} if the lock was lost before
 *   an index PUT, {PinRefreshError} if the session's pin could not be kept.
 */
export async function repackSnapshotPacks(
  ctx: SnapshotRepackContext,
  packs: readonly string[],
): Promise<string[]> {
  const store = new S3ObjectStore({ client: ctx.client, prefix: ctx.prefix });
  const doom: string[] = [];
  for (const [userId, names] of byUser(packs)) {
    const job = start(ctx, store, userId);
    let indexed = false;
    try {
      for (const name of names) await copyPack(ctx, store, job, name);
      const written = await job.writer.finish();
      for (const pack of written) ctx.report.copiedChunks += pack.blobs.length;
      await ctx.step("repacked");
      if (job.copied.length === 0) continue;
      await putIndex(ctx, job, written);
      indexed = true;
      await ctx.step("rewritten");
    } finally {
      // Not indexed: nothing names the new packs, they go.
      if (!indexed) await job.writer.abort();
      await job.pin.end();
    }
    ctx.report.snapshotPacksRepacked = (ctx.report.snapshotPacksRepacked ?? 0) +
      job.copied.length;
    for (const name of job.copied) doom.push(packsFolder(userId) + name);
  }
  return doom;
}

/** `packs` grouped by user, names relative to the user's folder, sorted. */
function byUser(packs: readonly string[]): Map<number, string[]> {
  const users = new Map<number, string[]>();
  for (const pack of [...packs].sort()) {
    const [, user, name] = pack.split("/");
    const list = users.get(Number(user));
    if (list) list.push(name);
    else users.set(Number(user), [name]);
  }
  return users;
}

/** A user's job: its session first (`openRepackSession`: the pin before any pack PUT, W2). */
function start(ctx: SnapshotRepackContext, store: S3ObjectStore, userId: number): UserRepack {
  return { userId, ...openRepackSession(ctx, store, userId), adding: new Map(), copied: [] };
}

/** Reads one old pack's live blobs, checks each, then hands those not copied yet to the writer. */
async function copyPack(
  ctx: SnapshotRepackContext,
  store: S3ObjectStore,
  job: UserRepack,
  name: string,
) {
  const object = packsFolder(job.userId) + name;
  const live = ctx.live.get(object) ?? [];
  const leave = (why: string) =>
    ctx.onError(new CorruptStoreError(`snapshot repack: ${object} stays: ${why}`));
  const refs = new Map<string, Uint8Array>();
  for (const blob of live) {
    if (blob.kind !== "tree") continue;
    const found = treeRefsOf(ctx.objects, job.userId, blob.id);
    // Its copy could not be indexed as complete: the pack stays, and so its tree.
    if (!found) return leave(`no references object names tree ${toHex(blob.id)}`);
    refs.set(toHex(blob.id), found);
  }
  const read = await readLive(store, object, live);
  if (read.kind === "gone") return; // swept meanwhile: nothing to move
  if (read.kind === "damaged") {
    return leave(`blob ${toHex(read.chunk.id)} at ${read.chunk.offset} is damaged`);
  }
  for (const { chunk: blob, stored } of read.checked) {
    const hex = toHex(blob.id);
    if (job.adding.has(hex)) continue; // live in another old pack too
    const kind = blob.kind === "tree" ? "tree" : "data";
    job.adding.set(hex, { kind, refs: refs.get(hex) });
    await job.writer.add(blob.id, { stored, compression: blob.compression }, blob.rawLength);
  }
  job.copied.push(name);
}

/** PUTs the references of the trees copied, then the index of every copy (W3, W5). */
async function putIndex(
  ctx: SnapshotRepackContext,
  job: UserRepack,
  written: readonly WrittenPack[],
) {
  const folder = packsFolder(job.userId);
  const table = new ChunkTableBuilder();
  const trees: TreeRefs[] = [];
  for (const pack of written) {
    for (const blob of pack.blobs) {
      const added = job.adding.get(toHex(blob.id))!;
      table.add({ ...blob, pack: pack.name.slice(folder.length), kind: added.kind });
      if (added.refs) trees.push({ id: blob.id, refs: added.refs });
    }
  }
  trees.sort((a, b) => compare(a.id, b.id));
  const names = sessionObjects(job.userId, job.session, 1);
  ctx.lock.ensureHeld();
  const signedAt = await job.pin.signRecordAt();
  // References first: a tree an index names has its references listed (as a session's flush).
  if (trees.length > 0) {
    await ctx.client.put(ctx.prefix + names.refs, encodeTreeRefs(trees), { signedAt });
  }
  ctx.lock.ensureHeld();
  await ctx.client.put(
    ctx.prefix + names.index,
    encodeChunkTable("blobs", sortedById(table.table())),
    { signedAt },
  );
}
