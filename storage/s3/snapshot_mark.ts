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
 * level, as embedded). A dead tree in a pack kept by a live blob keeps what it names: that is the
 * price of pack granularity until packs of snapshots are repacked (docs/snapshots_plan.md §7).
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
import {
  CHUNK_ENTRY_BYTES,
  CHUNK_ID_BYTES,
  chunkAt,
  type ChunkLocation,
  type ChunkTable,
  ChunkTableBuilder,
  compareIds,
  decodeChunkTable,
  locationOf,
  sortedById,
} from "./chunk_list.ts";
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
}

/** Marks; see the module comment. */
export function markSnapshots(read: SnapshotObjects, ctx: SnapshotMarkContext): SnapshotMark {
  const referenced = new Set<string>();
  const existing = new Map(ctx.packs.map((pack) => [pack.key, pack.lastModifiedMs]));
  const deadObjects: string[] = [];
  for (const [userId, user] of read) {
    const table = sortedById(user.builder.table());
    for (const name of table.packs) {
      const pack = `p/${userId}/${name}`;
      const at = existing.get(pack);
      if (at !== undefined && at > ctx.markMs - ctx.blobGraceMs) referenced.add(pack);
    }
    walk(user, userId, table, existing, ctx.deletes).forEach((pack) => referenced.add(pack));
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
    for (const object of user.refsObjects) {
      const name = object.key.slice(object.key.indexOf("/", 2) + 1);
      if (
        !live.has(name) && (object.lastModifiedMs <= ctx.markMs - ctx.graceMs ||
          user.indexes.some((index) => index.key.endsWith(`/${BLOB_INDEX_TAG}${name}`)))
      ) {
        deadObjects.push(object.key);
      }
    }
  }
  return { referenced, deadObjects };
}

/**
 * The packs of one user that snapshots keep (see the module comment): the packs of the roots, and
 * every pack holding a blob that a tree of a surviving pack names from another pack. A pack the
 * plan would delete that is kept so survives after all, and its trees count too. A tree's
 * references into its own pack count for nothing: they go with it.
 */
function walk(
  user: UserObjects,
  userId: number,
  table: ChunkTable,
  existing: ReadonlyMap<string, number>,
  deletes: (pack: string) => boolean,
): Set<string> {
  const trees = [...user.trees].sort((a, b) => compare(a.id, b.id));
  const full = (blob: ChunkLocation) => `p/${userId}/${blob.pack}`;
  const kept = new Set<string>();
  /** The trees (their ids) of each pack the plan would delete, for one kept after all. */
  const treesIn = new Map<string, Uint8Array[]>();
  /** Trees whose references to look at, with their pack. */
  const queue: [Uint8Array, string][] = [];
  for (let i = 0; i < table.count; i++) {
    const blob = locationOf(table.entries, i * CHUNK_ENTRY_BYTES, table.packs);
    const pack = full(blob);
    if (blob.kind !== "tree" || !existing.has(pack)) continue;
    if (!deletes(pack)) queue.push([blob.id, pack]);
    else {
      const list = treesIn.get(pack);
      if (list) list.push(blob.id);
      else treesIn.set(pack, [blob.id]);
    }
  }
  /** Keeps every pack holding a copy of `id` but `from` (the naming tree's own pack). */
  const keepCopies = (id: Uint8Array, from: string | undefined) => {
    for (let at = lowerBound(table, id); at < table.count; at++) {
      if (compareIds(table.entries, at * CHUNK_ENTRY_BYTES, id, 0) !== 0) break;
      const pack = full(locationOf(table.entries, at * CHUNK_ENTRY_BYTES, table.packs));
      if (pack === from || kept.has(pack)) continue;
      kept.add(pack);
      // A pack the plan would delete holds a kept blob: it stays, and its trees count.
      for (const tree of treesIn.get(pack) ?? []) queue.push([tree, pack]);
      treesIn.delete(pack);
    }
  };
  for (const root of user.roots) keepCopies(root, undefined);
  for (let next = 0; next < queue.length; next++) {
    const [tree, pack] = queue[next];
    // None: its index names it, so `t/` had it when the index was written; both go together.
    const refs = findTree(trees, tree);
    for (let at = 0; refs && at < refs.length; at += CHUNK_ID_BYTES) {
      keepCopies(refs.subarray(at, at + CHUNK_ID_BYTES), pack);
    }
  }
  return kept;
}

/** The first entry whose id is not below `id`. */
function lowerBound(table: ChunkTable, id: Uint8Array): number {
  let low = 0;
  let high = table.count;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (compareIds(table.entries, mid * CHUNK_ENTRY_BYTES, id, 0) < 0) low = mid + 1;
    else high = mid;
  }
  return low;
}

function findTree(trees: readonly TreeRefs[], id: Uint8Array): Uint8Array | undefined {
  let low = 0;
  let high = trees.length - 1;
  while (low <= high) {
    const mid = (low + high) >>> 1;
    const order = compare(trees[mid].id, id);
    if (order === 0) return trees[mid].refs;
    if (order < 0) low = mid + 1;
    else high = mid - 1;
  }
  return undefined;
}
