/**
 * How a `DedupCache` (`dedup_cache.ts`) reads what the bucket says of a user's chunks into the
 * user's `UserChunks`: the index objects `x/USER/*` it has not read yet (one LIST, then a GET of
 * each, 8 at once), each without the entries of packs in the tombstone view and of dropped places;
 * and the user's drop records `r/USER/*` (`snapshot_drops.ts`), whose places are forgotten. A
 * failed GET or a record that does not decode is told to `onError` and passed over: index objects
 * are hints.
 *
 * @module
 */
import { ObjectNotFoundError, type ObjectStore } from "../../objects/object_store.ts";
import { CHUNK_ENTRY_BYTES } from "./chunk_entry.ts";
import { type ChunkTable, decodeChunkTable } from "./chunk_list.ts";
import { mergeSorted, type UserChunks, withoutPacks } from "./dedup_user_chunks.ts";
import { applyDrops, pruneDrops, withoutDropped } from "./dedup_user_drops.ts";
import { indexFolder, packsFolder } from "./keys.ts";
import { BLOB_INDEX_TAG } from "./snapshot_objects.ts";
import { dropsFolder } from "./snapshot_drops.ts";

/** What the reads work with, given by the cache (see `DedupCacheOptions`). */
export interface DedupReadContext {
  /** The bucket's object store. */
  store: ObjectStore;
  /** Whether it reads snapshot sessions' index objects (BKIDX002), not chunked uploads'. */
  blobs: boolean;
  /** Told of an object that could not be read or decoded (it is passed over). */
  onError: (error: unknown) => void;
  /** Whether a pack (`p/USER/NAME`) is in a tombstone of this server's view. */
  isDoomed: (pack: string) => boolean;
}

/** Index objects read at once during a refresh. */
const GETS_IN_FLIGHT = 8;

/** A drop record that names no place (one that did not decode). */
const NO_PLACES: ChunkTable = { packs: [], entries: new Uint8Array(0), count: 0 };

/**
 * Lists the user's index objects (of the kind the cache reads) and merges each not read yet into
 * `user`. Rejects only if the LIST fails.
 */
export async function readIndexObjects(
  ctx: DedupReadContext,
  userId: number,
  user: UserChunks,
): Promise<void> {
  const folder = indexFolder(userId);
  const unread: string[] = [];
  for await (const { name } of ctx.store.list(folder)) {
    // Snapshot sessions' objects are read by the snapshot cache only (docs/storage.md).
    const blobIndex = name.startsWith(`${folder}${BLOB_INDEX_TAG}`);
    if (!user.read.has(name) && blobIndex === ctx.blobs) unread.push(name);
  }
  let next = 0;
  const worker = async () => {
    while (next < unread.length) {
      const name = unread[next++];
      try {
        const table = decodeChunkTable(
          ctx.blobs ? "blobs" : "index",
          await ctx.store.get(name),
        );
        mergeSorted(user, withoutDropped(user, withoutDoomed(ctx, userId, table)));
        user.read.add(name);
      } catch (error) {
        // Deleted since the LIST: a GC run consolidated it into a newer one.
        if (!(error instanceof ObjectNotFoundError)) ctx.onError(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(GETS_IN_FLIGHT, unread.length) }, worker));
}

/**
 * Reads the user's drop records `listed` (by `listDropRecords`, numbered `listing`) not read yet
 * (one GET each), forgetting the entries at their places.
 */
export async function readDropRecords(
  ctx: DedupReadContext,
  user: UserChunks,
  listed: Set<string>,
  listing: number,
): Promise<void> {
  for (const name of listed) {
    if (user.dropsRead.has(name)) continue;
    let table: ChunkTable;
    try {
      table = decodeChunkTable("blobs", await ctx.store.get(name));
    } catch (error) {
      // Deleted since the LIST: garbage collection found every pack it names gone. One that
      // does not decode is told of once and passed over (its places stay found).
      if (!(error instanceof ObjectNotFoundError)) {
        ctx.onError(error);
        applyDrops(user, name, NO_PLACES, listing);
      }
      continue;
    }
    applyDrops(user, name, table, listing);
  }
}

/**
 * Lists the user's drop records (their names, as many as repairs not yet collected) and forgets
 * those held that it no longer shows; `listing` numbers it.
 */
export async function listDropRecords(
  store: ObjectStore,
  userId: number,
  user: UserChunks,
  listing: number,
): Promise<Set<string>> {
  const listed = new Set<string>();
  for await (const { name } of store.list(dropsFolder(userId))) listed.add(name);
  pruneDrops(user, listed, listing);
  return listed;
}

/** `table` without the entries of packs in the tombstone view, checked now (after the GET). */
function withoutDoomed(ctx: DedupReadContext, userId: number, table: ChunkTable): ChunkTable {
  const dropped = new Set<number>();
  table.packs.forEach((pack, i) => {
    if (ctx.isDoomed(`${packsFolder(userId)}${pack}`)) dropped.add(i);
  });
  if (dropped.size === 0) return table;
  const entries = withoutPacks(table.entries, table.count, dropped);
  return { packs: table.packs, entries, count: entries.length / CHUNK_ENTRY_BYTES };
}
