/**
 * The walk of a GC run's snapshot mark (`snapshot_mark.ts`), by pack and by blob: which packs of a
 * user the snapshots keep, which blobs of the packs repack may move (`snapshot_repack.ts`) are
 * live, i.e. must be copied before their pack is doomed, and which movable packs must stay as they
 * are this run.
 *
 * Each pack listed is, for the walk, one of:
 * - **fixed**: it stays (young, pinned, not picked for repack);
 * - **movable**: repack may copy its live blobs and doom it (never one in a tombstone);
 * - **doomed**: in a tombstone this mark read, not deleted by this run;
 * - **deleted**: the run would delete it (a swept tombstone's, unprotected).
 *
 * Any tree of a pack that exists after this run may be answered present to a session, which then
 * relies on everything below it while pinning only the tree's pack; so what such a tree names must
 * exist after this run too. Two strengths of need:
 *
 * - **Live** (first pass): a snapshot's root, what a tree of a fixed pack names (from another
 *   pack: a reference into its own pack stays with it), what a live tree names, and what a tree of
 *   a deleted pack kept after all names. A live blob keeps its copies in fixed packs if it has any;
 *   else its copies in movable packs are **live** (copied by repack; their packs kept until then)
 *   and, if it is a tree, what it names is live in turn, its own pack included; else every copy it
 *   has left is kept (the deleted ones then survive, their trees counting), and a tree there is
 *   followed too. A copy in a doomed or movable pack is not kept when another stays: readers find
 *   the other when that pack goes (a read that finds a pack gone reads the index objects again),
 *   and a session that relies on one place has that pack in its pin.
 * - **Kept in place** (second pass, after every live blob is known): what a tree of a movable or
 *   doomed pack names, from another pack, live or not: such a pack goes (by this run's doom or a
 *   later sweep) but exists after this run, and a session told its dead tree was stored relies on
 *   what it names until then. Such a blob with a copy in a fixed pack keeps it; else one with a
 *   live copy needs nothing more (the copy is indexed before its old pack is doomed); else its
 *   copies in movable packs **stay** (`WalkResult.stay`: the plan makes them fixed and walks
 *   again, `snapshot_repack_plan.ts`); else all its copies are kept, and the trees of a deleted
 *   pack kept so count in this pass too. Nothing is copied for it: it goes one run after the dead
 *   tree's pack is deleted (G apart per level). A dead tree of a movable pack once counted for
 *   nothing, and what it named was doomed with its pack, under a session told it was stored; then
 *   it counted as live, and what only it named was copied for nothing
 *   (`tests/snapshot_repack_walk_test.ts`).
 *
 * Memory: a byte per indexed blob (live), a byte per tree followed, the queue of trees.
 *
 * @module
 */
import { chunkAt, type ChunkTable } from "./chunk_list.ts";
import { CHUNK_ENTRY_BYTES, CHUNK_ID_BYTES, compareIds, packIndexAt } from "./chunk_entry.ts";
import { compare, type TreeRefs } from "./snapshot_objects.ts";

/** What the walk makes of each pack (`p/USER/NAME`). */
export const PackClass = { Gone: 0, Fixed: 1, Movable: 2, Doomed: 3, Deleted: 4 } as const;
/** One of `PackClass`. */
export type PackClass = typeof PackClass[keyof typeof PackClass];

/** One user's snapshot objects, as the walk needs them. */
export interface WalkInput {
  /** Every indexed blob (dropped places left out), sorted by id. */
  table: ChunkTable;
  /** Each indexed tree's references, sorted by id. */
  trees: readonly TreeRefs[];
  /** The snapshots' root trees. */
  roots: readonly Uint8Array[];
  /** The class of each of `table.packs`. */
  classOf(pack: string): PackClass;
}

/** What the walk found. */
export interface WalkResult {
  /** Indexes of `table.packs` that the snapshots keep (`stay` among them). */
  kept: Set<number>;
  /** Per entry of `table`: 1 if it is a live blob of a movable pack. */
  live: Uint8Array;
  /**
   * Indexes of movable packs that must stay as they are this run (neither repacked nor doomed):
   * they hold a blob that a tree of a movable or doomed pack names, with no copy that stays.
   */
  stay: Set<number>;
}

/** Walks one user's snapshots; see the module comment. */
export function walkSnapshots(input: WalkInput): WalkResult {
  const { table, trees } = input;
  const entries = table.entries;
  const classes = Uint8Array.from(table.packs, (pack) => input.classOf(pack));
  const packAt = (i: number) => packIndexAt(entries, i * CHUNK_ENTRY_BYTES);
  const kept = new Set<number>();
  const stay = new Set<number>();
  const live = new Uint8Array(table.count);
  /** Per entry: the first entry of a live tree whose references were queued. */
  const followed = new Uint8Array(table.count);
  /** The trees of each deleted pack, for one kept after all. */
  const treesIn = new Map<number, Uint8Array[]>();
  /** Trees whose references are live, with the pack whose copies they do not need (-1: none). */
  const liveQueue: [Uint8Array, number][] = [];
  /** Trees of packs that go but exist after this run: what they name is kept in place. */
  const inPlaceQueue: [Uint8Array, number][] = [];
  for (let i = 0; i < table.count; i++) {
    if (!isTree(table, i)) continue;
    const pack = packAt(i);
    const id = entries.subarray(i * CHUNK_ENTRY_BYTES, i * CHUNK_ENTRY_BYTES + CHUNK_ID_BYTES);
    const kind = classes[pack];
    if (kind === PackClass.Fixed) liveQueue.push([id, pack]);
    else if (kind === PackClass.Movable || kind === PackClass.Doomed) inPlaceQueue.push([id, pack]);
    else if (kind === PackClass.Deleted) {
      const list = treesIn.get(pack);
      if (list) list.push(id);
      else treesIn.set(pack, [id]);
    }
  }
  /** The queue a deleted pack kept now adds its trees to: the pass's. */
  let queue = liveQueue;
  const keep = (pack: number) => {
    if (kept.has(pack)) return;
    kept.add(pack);
    // A pack the plan would delete holds a needed blob: it stays, and its trees count.
    for (const tree of treesIn.get(pack) ?? []) queue.push([tree, pack]);
    treesIn.delete(pack);
  };
  const need = (id: Uint8Array, from: number, inPlace: boolean) => {
    const first = lowerBound(table, id);
    let end = first;
    while (end < table.count && compareIds(entries, end * CHUNK_ENTRY_BYTES, id, 0) === 0) end++;
    if (first === end) return;
    let fixed = false;
    let movable = false;
    let copied = false;
    for (let at = first; at < end; at++) {
      const pack = packAt(at);
      // A fixed tree's reference into its own pack: the two stay together.
      if (pack === from && classes[pack] === PackClass.Fixed) return;
      if (pack === from) continue;
      if (classes[pack] === PackClass.Fixed) fixed = true;
      else if (classes[pack] === PackClass.Movable) movable = true;
      if (live[at]) copied = true;
    }
    if (inPlace && !fixed && movable) {
      // Copied: the copy is indexed before the old pack is doomed, and stays.
      if (copied) return;
      for (let at = first; at < end; at++) {
        const pack = packAt(at);
        if (pack !== from && classes[pack] === PackClass.Movable) {
          stay.add(pack);
          kept.add(pack);
        }
      }
      return;
    }
    const wanted: PackClass | undefined = fixed
      ? PackClass.Fixed
      : movable
      ? PackClass.Movable
      : undefined;
    let keptAny = false;
    for (let at = first; at < end; at++) {
      const pack = packAt(at);
      if (pack === from || classes[pack] === PackClass.Gone) continue;
      if (wanted !== undefined && classes[pack] !== wanted) continue;
      keep(pack);
      keptAny = true;
      if (wanted === PackClass.Movable) live[at] = 1;
    }
    // A live tree left only in packs that go: what it names is live, in its own pack too (a
    // copy names it; a doomed or deleted one kept stays with it). One in a fixed pack is
    // followed as a tree of that pack.
    if (
      !inPlace && wanted !== PackClass.Fixed && keptAny && isTree(table, first) && !followed[first]
    ) {
      followed[first] = 1;
      queue.push([id, -1]);
    }
  };
  const drain = (inPlace: boolean) => {
    for (let next = 0; next < queue.length; next++) {
      const [tree, from] = queue[next];
      // None: its index names it, so `t/` had it when the index was written; both go together.
      const refs = findTree(trees, tree);
      for (let at = 0; refs && at < refs.length; at += CHUNK_ID_BYTES) {
        need(refs.subarray(at, at + CHUNK_ID_BYTES), from, inPlace);
      }
    }
  };
  for (const root of input.roots) need(root, -1, false);
  drain(false);
  queue = inPlaceQueue;
  drain(true);
  return { kept, live, stay };
}

/** `table` (sorted by id) with each place (id, pack, offset) once; a copy if any repeats. */
export function distinctPlaces(table: ChunkTable): ChunkTable {
  const source = table.entries;
  let entries: Uint8Array | undefined;
  let out = 0;
  let runStart = 0;
  for (let at = 0; at < table.count * CHUNK_ENTRY_BYTES; at += CHUNK_ENTRY_BYTES) {
    if (at > 0 && compareIds(source, at - CHUNK_ENTRY_BYTES, source, at) !== 0) runStart = at;
    // An id has few places: the run of its entries so far is looked through.
    let repeated = false;
    for (let seen = runStart; seen < at && !repeated; seen += CHUNK_ENTRY_BYTES) {
      repeated = samePlace(source, seen, at);
    }
    if (repeated) {
      entries ??= source.slice(0, out);
      continue;
    }
    if (entries) {
      if (entries.length < out + CHUNK_ENTRY_BYTES) {
        const grown = new Uint8Array(table.count * CHUNK_ENTRY_BYTES);
        grown.set(entries.subarray(0, out));
        entries = grown;
      }
      entries.set(source.subarray(at, at + CHUNK_ENTRY_BYTES), out);
    }
    out += CHUNK_ENTRY_BYTES;
  }
  if (!entries) return table;
  return { packs: table.packs, entries: entries.subarray(0, out), count: out / CHUNK_ENTRY_BYTES };
}

/** Whether the entries at bytes `a` and `b` of `entries` name one pack and offset. */
function samePlace(entries: Uint8Array, a: number, b: number): boolean {
  // The pack index and the offset: the 8 bytes after the id.
  for (let i = CHUNK_ID_BYTES; i < CHUNK_ID_BYTES + 8; i++) {
    if (entries[a + i] !== entries[b + i]) return false;
  }
  return true;
}

/** The references of tree `id` (its ids back to back), if `trees` (sorted by id) has it. */
export function findTree(trees: readonly TreeRefs[], id: Uint8Array): Uint8Array | undefined {
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

/** Whether entry `i` of `table` is a tree. */
function isTree(table: ChunkTable, i: number): boolean {
  return chunkAt(table, i).kind === "tree";
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
