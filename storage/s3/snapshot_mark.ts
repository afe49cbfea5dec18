/**
 * The snapshots part of a GC run's mark (docs/snapshots_plan.md §7). Read after the pins and the
 * records, in this order: LIST `s/` (every snapshot: its key names the user, its body the root),
 * then `r/` (drop records, `snapshot_drops.ts`: the places they name are left out of the mark, and
 * a record goes once every pack it names is gone), then `x/USER/snap.*` (where each blob is, its
 * kind), then `t/` (each indexed tree's references).
 * A session PUTs `t/`, then `x/`, then `s/`, so a snapshot this mark lists has its index and
 * references listed too, and a tree an index names has its references listed.
 *
 * **What snapshots keep**: the packs of the snapshots' roots, and every pack holding a blob that a
 * tree of a **surviving** pack (one this run does not delete) names from another pack. A tree in an
 * index object may be answered present to a session for as long as its pack is there, and the
 * session then relies on everything below it (its commit stops its walk at an indexed tree): so
 * while a tree's pack stays, so does every pack holding what it names, and so on down. A pack the
 * plan would delete that holds such a blob stays after all, and its trees count too. References
 * into a tree's own pack count for nothing (they go with it), so a dead tree does not keep its own
 * pack; what it names elsewhere goes one run after its pack is deleted (a cascade, G apart per
 * level, as embedded). The walk itself, by blob (which copies a needed blob keeps, which blobs
 * of packs being repacked are live, which must stay in place): `snapshot_repack_mark.ts`; a dead
 * tree in a pack kept by a live blob keeps what it names until repack (`snapshot_repack.ts`)
 * moves that live blob out, and one run after (in place, not copied).
 *
 * A snapshot pack younger than `blobGraceMs` is referenced too (an interrupted run's blobs, kept
 * for the next run). An index object whose packs are all gone, and the references object of the
 * same session and flush, are deleted (and a references object without its index, once G old).
 *
 * Memory: per user, 48 bytes per indexed blob, the references' bytes, a bit per blob.
 *
 * @module
 */
import type { S3Client } from "../../objects/s3/s3_client.ts";
import { chunkAt, ChunkTableBuilder, decodeChunkTable, sortedById } from "./chunk_list.ts";
import type { ChunkLocation } from "./chunk_entry.ts";
import type { Listed } from "./gc_plan.ts";
import { getOrGone, inParallel, listed } from "./gc_requests.ts";
import {
  BLOB_INDEX_TAG,
  compare,
  decodeSnapshot,
  decodeTreeRefs,
  parseSnapshotKey,
  type TreeRefs,
} from "./snapshot_objects.ts";
import { dropKey, dropKeysOf } from "./snapshot_drops.ts";
import { distinctPlaces, findTree, PackClass, walkSnapshots } from "./snapshot_repack_mark.ts";

/** One user's snapshot objects, as the mark read them. */
interface UserObjects {
  roots: Uint8Array[];
  /** Every index object's entries (packs relative to `p/USER/`). */
  builder: ChunkTableBuilder;
  indexes: (Listed & { packs: string[] })[];
  trees: TreeRefs[];
  refsObjects: Listed[];
  /** Drop records (`r/USER/*`), each with the packs it names. */
  drops: (Listed & { packs: string[] })[];
  /** The places they drop (`dropKey`): left out of `builder`. */
  dropped: Set<string>;
}

/** What the snapshot objects say, read by `readSnapshotObjects`. */
export type SnapshotObjects = Map<number, UserObjects>;

/**
 * LISTs `s/`, `x/` (snapshot sessions' objects only) and `t/`, and GETs each.
 *
 * @throws {S3Error} if the store failed a request, {CorruptStoreError} if an object does not decode.
 */
export async function readSnapshotObjects(
  client: S3Client,
  prefix: string,
): Promise<SnapshotObjects> {
  const users: SnapshotObjects = new Map();
  const user = (id: number) => {
    let found = users.get(id);
    if (!found) {
      users.set(
        id,
        found = {
          roots: [],
          builder: new ChunkTableBuilder(),
          indexes: [],
          trees: [],
          refsObjects: [],
          drops: [],
          dropped: new Set(),
        },
      );
    }
    return found;
  };
  const userOf = (key: string) => Number(/^[rstx]\/(\d+)\//.exec(key)?.[1] ?? NaN);
  const snapshots = await listed(client, prefix, `${prefix}s/`);
  await inParallel(snapshots, async (object) => {
    const userId = userOf(object.key);
    if (!parseSnapshotKey(object.key.slice(`s/${userId}/`.length))) return;
    const bytes = await getOrGone(client, prefix + object.key);
    if (bytes) user(userId).roots.push(decodeSnapshot(bytes).tree);
  });
  // Before the index objects: their entries at a dropped place are left out as they are read.
  await inParallel(await listed(client, prefix, `${prefix}r/`), async (object) => {
    const bytes = await getOrGone(client, prefix + object.key);
    if (!bytes) return;
    const userId = userOf(object.key);
    const table = decodeChunkTable("blobs", bytes);
    const into = user(userId);
    for (const key of dropKeysOf(table)) into.dropped.add(key);
    into.drops.push({ ...object, packs: table.packs.map((pack) => `p/${userId}/${pack}`) });
  });
  const indexes = (await listed(client, prefix, `${prefix}x/`)).filter(({ key }) =>
    key.startsWith(`x/${userOf(key)}/${BLOB_INDEX_TAG}`)
  );
  await inParallel(indexes, async (object) => {
    const bytes = await getOrGone(client, prefix + object.key);
    if (!bytes) return;
    const userId = userOf(object.key);
    const table = decodeChunkTable("blobs", bytes);
    const into = user(userId);
    for (let i = 0; i < table.count; i++) {
      const blob = chunkAt(table, i);
      if (!into.dropped.has(dropKey(blob.id, blob.pack, blob.offset))) into.builder.add(blob);
    }
    into.indexes.push({ ...object, packs: table.packs.map((pack) => `p/${userId}/${pack}`) });
  });
  await inParallel(await listed(client, prefix, `${prefix}t/`), async (object) => {
    const into = user(userOf(object.key));
    into.refsObjects.push(object);
    const bytes = await getOrGone(client, prefix + object.key);
    // One push per tree: a spread of a large object's trees overflows the call stack.
    if (bytes) { for (const tree of decodeTreeRefs(bytes)) into.trees.push(tree); }
  });
  return users;
}

/** What the run keeps and deletes because of snapshots. */
export interface SnapshotMark {
  /** Packs (`p/USER/NAME`) holding a live blob, or young snapshot packs. */
  referenced: Set<string>;
  /** Index and references objects to delete (keys relative to the prefix). */
  deadObjects: string[];
  /** Stored bytes of the live blobs of each movable pack that has any (`p/USER/NAME`). */
  liveBytes: Map<string, number>;
  /** With `places`: the live blobs of each movable pack (`p/USER/NAME`), by offset. */
  live: Map<string, ChunkLocation[]>;
  /** Movable packs (`p/USER/NAME`) that must stay as they are this run (`WalkResult.stay`). */
  stay: Set<string>;
}

/** What the walk needs of the rest of the mark. */
export interface SnapshotMarkContext {
  /** μ, by the store's clock. */
  markMs: number;
  graceMs: number;
  /** How long a snapshot pack is kept whatever references it. */
  blobGraceMs: number;
  /** Every pack listed (`p/`). */
  packs: readonly Listed[];
  /** Whether the run would delete a pack if snapshots did not reference it. */
  deletes(pack: string): boolean;
  /** Whether a pack is in a tombstone this mark read. @default none is */
  doomed?(pack: string): boolean;
  /** Whether repack may copy a pack's live blobs and doom it (`snapshot_repack_mark.ts`). */
  movable?(pack: string): boolean;
  /** Whether to give the live blobs of movable packs (`SnapshotMark.live`). */
  places?: boolean;
}

/** Marks; see the module comment. */
export function markSnapshots(read: SnapshotObjects, ctx: SnapshotMarkContext): SnapshotMark {
  const referenced = new Set<string>();
  const existing = new Map(ctx.packs.map((pack) => [pack.key, pack.lastModifiedMs]));
  const deadObjects: string[] = [];
  const liveBytes = new Map<string, number>();
  const livePlaces = new Map<string, ChunkLocation[]>();
  const stay = new Set<string>();
  for (const [userId, user] of read) {
    // Once per place: a merged index object repeats its sources' entries until they go.
    const table = distinctPlaces(sortedById(user.builder.table()));
    for (const name of table.packs) {
      const pack = `p/${userId}/${name}`;
      const at = existing.get(pack);
      if (at !== undefined && at > ctx.markMs - ctx.blobGraceMs) referenced.add(pack);
    }
    // In place, once: the walk and repack look trees up by id.
    user.trees.sort((a, b) => compare(a.id, b.id));
    const walked = walkSnapshots({
      table,
      trees: user.trees,
      roots: user.roots,
      classOf: (name) => {
        const pack = `p/${userId}/${name}`;
        if (!existing.has(pack)) return PackClass.Gone;
        if (ctx.deletes(pack)) return PackClass.Deleted;
        if (ctx.doomed?.(pack)) return PackClass.Doomed;
        return ctx.movable?.(pack) ? PackClass.Movable : PackClass.Fixed;
      },
    });
    for (const index of walked.kept) referenced.add(`p/${userId}/${table.packs[index]}`);
    for (const index of walked.stay) stay.add(`p/${userId}/${table.packs[index]}`);
    for (let i = 0; i < table.count; i++) {
      if (!walked.live[i]) continue;
      const blob = chunkAt(table, i);
      const pack = `p/${userId}/${blob.pack}`;
      liveBytes.set(pack, (liveBytes.get(pack) ?? 0) + blob.storedLength);
      if (!ctx.places) continue;
      const list = livePlaces.get(pack);
      if (list) list.push(blob);
      else livePlaces.set(pack, [blob]);
    }
    // A drop record goes once every pack it names is gone: no index object then places its blobs
    // anywhere a server would read them (a server finding a pack gone passes over its entries).
    for (const drop of user.drops) {
      const gone = drop.packs.every((pack) => !existing.has(pack) || ctx.deletes(pack));
      if (gone && !drop.packs.some((pack) => referenced.has(pack))) deadObjects.push(drop.key);
    }
    const live = new Set<string>();
    for (const index of user.indexes) {
      const gone = index.packs.every((pack) => !existing.has(pack) || ctx.deletes(pack));
      if (gone && !index.packs.some((pack) => referenced.has(pack))) {
        deadObjects.push(index.key);
      } else live.add(index.key.slice(index.key.indexOf(BLOB_INDEX_TAG) + BLOB_INDEX_TAG.length));
    }
    // Trees are found by their pack's session (`t/USER/SESSION.*`): an index object merged away
    // (`snapshot_index_merge.ts`) leaves its twin for as long as a pack of the session stays.
    const sessions = new Set<string>();
    for (const name of table.packs) {
      const pack = `p/${userId}/${name}`;
      if (existing.has(pack) && (!ctx.deletes(pack) || referenced.has(pack))) {
        sessions.add(name.slice(0, name.indexOf(".")));
      }
    }
    for (const object of user.refsObjects) {
      const name = object.key.slice(object.key.indexOf("/", 2) + 1);
      if (
        !live.has(name) && !sessions.has(name.slice(0, name.indexOf("."))) &&
        (object.lastModifiedMs <= ctx.markMs - ctx.graceMs ||
          user.indexes.some((index) => index.key.endsWith(`/${BLOB_INDEX_TAG}${name}`)))
      ) {
        deadObjects.push(object.key);
      }
    }
  }
  for (const list of livePlaces.values()) list.sort((a, b) => a.offset - b.offset);
  return { referenced, deadObjects, liveBytes, live: livePlaces, stay };
}

/**
 * The references of tree `id` of user `userId`, as the mark read them (after `markSnapshots`,
 * which sorts them); undefined if no references object has it.
 */
export function treeRefsOf(
  read: SnapshotObjects,
  userId: number,
  id: Uint8Array,
): Uint8Array | undefined {
  const user = read.get(userId);
  return user && findTree(user.trees, id);
}
