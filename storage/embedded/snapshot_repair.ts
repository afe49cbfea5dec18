/**
 * The embedded engine's side of a user's `Prune` and `DropBlobs` (docs/keys_plan.md §6, §7):
 * garbage collection run now, answered as what the user's usage dropped by, and damaged blobs
 * read again, hashed, and dropped only when their bytes really are bad (`markDamaged`: the row
 * stays, without a place, until a session's copy heals it); a sealed blob, which only the client
 * can check, is dropped as the client asks.
 *
 * @module
 */
import { ObjectNotFoundError } from "../../objects/object_store.ts";
import { CorruptStoreError, DeleteRefusedError, LimitExceededError } from "../errors.ts";
import {
  BlobMismatchError,
  NoSuchBlobError,
  type PruneReport,
  type StoredBlob,
} from "../snapshots.ts";
import { checkBlob } from "../blob_check.ts";
import { checkDropBudget, dropRequestIds, MAX_DROP_READ_BYTES } from "../drop_request.ts";
import type { GarbageCollectionReport } from "./chunk_gc.ts";
import type { ChangeSize } from "./index_writes.ts";
import type { SnapshotCatalog } from "./snapshot_catalog.ts";
import type { VersionIndex } from "./version_index.ts";

/** What a prune or a drop works with, given by the snapshot store. */
export interface SnapshotRepairContext {
  index: VersionIndex;
  catalog: SnapshotCatalog;
  /** Makes one synchronous change of the index durable (`IndexWrites.durably`). */
  durably<T>(change: () => T, size: ChangeSize): Promise<T>;
  /** Whether a user is append-only now. */
  appendOnlyOf(userId: number): boolean;
  /** A run of garbage collection that starts now (`EmbeddedStorage.collectGarbageNow`). */
  collectGarbageNow(): Promise<GarbageCollectionReport[]>;
  /** A blob as stored (`EmbeddedSnapshotStore.readBlob`). */
  readBlob(userId: number, id: Uint8Array): Promise<StoredBlob>;
}

/**
 * Runs garbage collection now for `userId`'s `Prune` (every user's garbage goes with it: one run
 * of the engine's steps, bounded, each a short durable change, coalesced with a run under way).
 *
 * @throws {DeleteRefusedError} if the user is append-only.
 */
export async function pruneNow(ctx: SnapshotRepairContext, userId: number): Promise<PruneReport> {
  if (ctx.appendOnlyOf(userId)) throw new DeleteRefusedError(`the repository of user ${userId}`);
  const before = ctx.index.usage(userId);
  const reports = await ctx.collectGarbageNow();
  const after = ctx.index.usage(userId);
  const packsRemoved = reports.reduce((n, report) => n + (report.packsByUser.get(userId) ?? 0), 0);
  return { bytesFreed: Math.max(0, before - after), packsRemoved };
}

export { MAX_DROP_READ_BYTES };

/**
 * Reads each blob of `ids` the user has, and marks damaged (in one durable change) those whose
 * bytes cannot be read whole or do not hash to their id, and every sealed one (see `isDamaged`). Blobs are read one at a time: memory
 * holds one blob (8 MiB at most).
 *
 * @returns the ids marked damaged.
 * @throws {DeleteRefusedError} if the user is append-only.
 * @throws {LimitExceededError} for more than `MAX_MISSING_IDS` ids, or more than
 *   `MAX_DROP_READ_BYTES` to read.
 */
export async function dropDamaged(
  ctx: SnapshotRepairContext,
  userId: number,
  ids: Uint8Array[],
): Promise<Uint8Array[]> {
  const unique = dropRequestIds(ctx.appendOnlyOf(userId), userId, ids);
  // What re-reading them costs is known before any read: a request over the budget is refused.
  const toRead = unique.reduce(
    (sum, id) => sum + (ctx.catalog.placement(userId, id)?.storedLength ?? 0),
    0,
  );
  checkDropBudget(unique.length, toRead);
  const bad: Uint8Array[] = [];
  for (const id of unique) if (await isDamaged(ctx, userId, id)) bad.push(id);
  if (bad.length === 0) return [];
  return await ctx.durably(
    () => ctx.index.transaction(() => bad.filter((id) => ctx.catalog.markDamaged(userId, id))),
    { changes: 1, bytes: 0 },
  );
}

/** Whether the user's blob is there and bad (not there, or good: false). */
async function isDamaged(
  ctx: SnapshotRepairContext,
  userId: number,
  id: Uint8Array,
): Promise<boolean> {
  let blob: StoredBlob;
  try {
    blob = await ctx.readBlob(userId, id);
  } catch (error) {
    if (error instanceof NoSuchBlobError) return false;
    // Its pack cut short or gone: the bytes cannot be had, which is as bad as wrong bytes.
    if (error instanceof CorruptStoreError || error instanceof ObjectNotFoundError) return true;
    throw error;
  }
  // A sealed blob (an encrypted repository's) cannot be hashed here: its id is the client's keyed
  // HMAC. The client opened it and found it bad, so it is dropped as asked; a client lying about
  // it hurts only its own user's repository (the next backup sends the blob again, and a good
  // blob dropped is missing only until then).
  if (blob.encoding === "sealed") return true;
  try {
    checkBlob({ id, ...blob });
    return false;
  } catch (error) {
    if (error instanceof BlobMismatchError || error instanceof LimitExceededError) return true;
    throw error;
  }
}
