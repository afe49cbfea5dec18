/**
 * One user's entries in a `DedupCache` (`dedup_cache.ts`), in memory and without I/O: a sorted
 * `Uint8Array` of 48-byte entries looked up by binary search, the pack-name table, a small `Map`
 * of entries added since the last merge, and the places the user's drop records name (held while a
 * listing of the records shows them; a record read adds its places and forgets the entries at them).
 *
 * @module
 */
import { toHex } from "../../common/hex.ts";
import { type ChunkTable, sortedById } from "./chunk_list.ts";
import {
  CHUNK_ENTRY_BYTES,
  CHUNK_ID_BYTES,
  type ChunkLocation,
  compareIds,
  locationOf,
  packIndexAt,
  setPackIndexAt,
} from "./chunk_entry.ts";

/** Entries added one by one that wait in a `Map` before they are merged into the sorted array. */
const MERGE_AFTER = 4096;
/** Bytes counted for a name (a pack's, an index object's) or an entry of the `Map`. */
const NAME_BYTES = 96;
const MAP_ENTRY_BYTES = 200;
/** Bytes counted for a dropped place: its `dropKey` string in a `Set` and a slot in its record. */
const DROPPED_PLACE_BYTES = 200;

/** A drop record a `DedupCache` holds. */
export interface HeldDrops {
  /** The places it names (`dropKey`s); none for a record that did not decode. */
  keys: readonly string[];
  /**
   * The number of the latest LIST of `r/USER/` that showed it; none for a record written by this
   * server and not listed since (a listing may lag a PUT: such a record is never pruned).
   */
  listedBy: number | undefined;
}

/** What a `DedupCache` holds of one user. */
export interface UserChunks {
  /** Pack names, indexed by the entries' pack index. */
  packs: string[];
  /** Each pack name's index in `packs`. */
  packIndex: Map<string, number>;
  /** `sortedCount` entries, sorted by id, distinct. */
  sorted: Uint8Array;
  /** How many entries `sorted` holds. */
  sortedCount: number;
  /** Entries not merged yet, by hex id. */
  recent: Map<string, Uint8Array>;
  /** Index objects already read (or written here). */
  read: Set<string>;
  /** Places dropped (`dropKey`) by the records in `dropsRead`. */
  dropped: Set<string>;
  /** Drop records already read (or written here), by name. */
  dropsRead: Map<string, HeldDrops>;
  /** When the user's index objects were last listed (the cache's clock), if ever. */
  listedAt: number | undefined;
  /** The refresh under way, if any (callers at the same time share it). */
  refreshing: Promise<void> | undefined;
  /**
   * Whether the next refresh reads every index object anew (a doom of one of the user's packs:
   * a copy of what it holds may have been passed over as an id already known).
   */
  reloadDue: boolean;
  /** What that reload reads into, while these entries still answer; swapped in once read. */
  replacement?: UserChunks;
  /**
   * Whether a pack (by name) is leaving (doomed, still readable): an id placed in it takes another
   * place read or added later, and is looked up there (a repack's copy). None: no pack is.
   */
  leaving?: (pack: string) => boolean;
}

/** A user the cache knows nothing of yet; `leaving` as `UserChunks.leaving`. */
export function emptyUserChunks(leaving?: (pack: string) => boolean): UserChunks {
  return {
    leaving,
    packs: [],
    packIndex: new Map(),
    sorted: new Uint8Array(0),
    sortedCount: 0,
    recent: new Map(),
    read: new Set(),
    dropped: new Set(),
    dropsRead: new Map(),
    listedAt: undefined,
    refreshing: undefined,
    reloadDue: false,
  };
}

/**
 * Starts a reload of `user` into `empty` (its `replacement` from now on) and returns it: the drop
 * records held are carried over (one written here may not be listed yet), not read again.
 */
export function replacementOf(user: UserChunks, empty: UserChunks): UserChunks {
  for (const [name, held] of user.dropsRead) empty.dropsRead.set(name, { ...held });
  for (const key of user.dropped) empty.dropped.add(key);
  user.replacement = empty;
  return empty;
}

/**
 * Makes the user's next refresh a reload (and the next of a replacement being read, once swapped
 * in): only if it has entries in one of `names` (pack names relative to the user's folder), if given.
 */
export function markReload(user: UserChunks, names?: ReadonlySet<string>): void {
  for (const held of withReplacement(user)) {
    if (!names || [...names].some((name) => held.packIndex.has(name))) held.reloadDue = true;
  }
}

/** The user's entries, and the replacement a reload is reading into, if any. */
export function withReplacement(user: UserChunks): UserChunks[] {
  return user.replacement ? [user, user.replacement] : [user];
}

/** Where chunk `id` is among the user's entries, if there. */
export function findChunk(user: UserChunks, id: Uint8Array): ChunkLocation | undefined {
  const at = sortedIndexOf(user, id);
  const sorted = at >= 0 ? locationOf(user.sorted, at * CHUNK_ENTRY_BYTES, user.packs) : undefined;
  if (sorted && !user.leaving?.(sorted.pack)) return sorted;
  const entry = user.recent.get(toHex(id.subarray(0, CHUNK_ID_BYTES)));
  return entry ? locationOf(entry, 0, user.packs) : sorted;
}

/** The index of `id`'s entry in the user's sorted array, or -1. */
export function sortedIndexOf(user: UserChunks, id: Uint8Array): number {
  let low = 0;
  let high = user.sortedCount - 1;
  while (low <= high) {
    const mid = (low + high) >>> 1;
    const order = compareIds(user.sorted, mid * CHUNK_ENTRY_BYTES, id, 0);
    if (order === 0) return mid;
    if (order < 0) low = mid + 1;
    else high = mid - 1;
  }
  return -1;
}

/** Adds every entry of `table` to the user's recent entries (merged once there are many). */
export function addTable(user: UserChunks, table: ChunkTable): void {
  for (let i = 0; i < table.count; i++) {
    const from = i * CHUNK_ENTRY_BYTES;
    const entry = table.entries.slice(from, from + CHUNK_ENTRY_BYTES);
    setPackIndexAt(entry, 0, packOf(user, table.packs[packIndexAt(entry, 0)]));
    user.recent.set(toHex(entry.subarray(0, CHUNK_ID_BYTES)), entry);
  }
  if (user.recent.size >= MERGE_AFTER) mergeRecent(user);
}

/** Forgets the user's entries in the packs named (pack names relative to the user's folder). */
export function dropUserPacks(user: UserChunks, names: ReadonlySet<string>): void {
  const dropped = new Set<number>();
  names.forEach((name) => {
    const index = user.packIndex.get(name);
    if (index !== undefined) dropped.add(index);
  });
  if (dropped.size === 0) return;
  for (const [id, entry] of user.recent) {
    if (dropped.has(packIndexAt(entry, 0))) user.recent.delete(id);
  }
  user.sorted = withoutPacks(user.sorted, user.sortedCount, dropped);
  user.sortedCount = user.sorted.length / CHUNK_ENTRY_BYTES;
}

/** The first `count` entries of `entries` whose pack index is not in `dropped`, in order. */
export function withoutPacks(
  entries: Uint8Array,
  count: number,
  dropped: ReadonlySet<number>,
): Uint8Array {
  return withoutEntries(entries, count, (_, entry) => dropped.has(packIndexAt(entries, entry)));
}

/** The first `count` entries of `entries` but those `skip` is true of (by index, by byte), in order. */
export function withoutEntries(
  entries: Uint8Array,
  count: number,
  skip: (index: number, at: number) => boolean,
): Uint8Array {
  const kept = new Uint8Array(count * CHUNK_ENTRY_BYTES);
  let out = 0;
  for (let index = 0; index < count; index++) {
    const at = index * CHUNK_ENTRY_BYTES;
    if (skip(index, at)) continue;
    kept.set(entries.subarray(at, at + CHUNK_ENTRY_BYTES), out);
    out += CHUNK_ENTRY_BYTES;
  }
  return out === kept.length ? kept : kept.slice(0, out);
}

/**
 * The ids of the user's dropped places (each once): a blob among them is unhealed unless another
 * place of it is found.
 */
export function droppedIdsOf(user: UserChunks): Uint8Array[] {
  const ids = new Set<string>();
  for (const key of user.dropped) ids.add(key.slice(0, key.indexOf(" ")));
  return [...ids].map((hex) => Uint8Array.fromHex(hex));
}

/** Bytes the user's entries (and a replacement's being read) are counted as against the budget. */
export function bytesOf(user: UserChunks): number {
  return (user.replacement ? bytesOf(user.replacement) : 0) + user.sorted.byteLength +
    user.recent.size * MAP_ENTRY_BYTES +
    (user.packs.length + user.read.size + user.dropsRead.size) * NAME_BYTES +
    user.dropped.size * DROPPED_PLACE_BYTES;
}

function packOf(user: UserChunks, pack: string): number {
  let index = user.packIndex.get(pack);
  if (index === undefined) {
    index = user.packs.push(pack) - 1;
    user.packIndex.set(pack, index);
  }
  return index;
}

/** Merges the `Map`'s entries into the sorted array. */
function mergeRecent(user: UserChunks): void {
  const entries = new Uint8Array(user.recent.size * CHUNK_ENTRY_BYTES);
  let at = 0;
  for (const entry of user.recent.values()) {
    entries.set(entry, at);
    at += CHUNK_ENTRY_BYTES;
  }
  user.recent.clear();
  mergeSorted(user, sortedById({ packs: user.packs, entries, count: at / CHUNK_ENTRY_BYTES }));
}

/**
 * Merges a table sorted by id (its packs named in its own table) into the user's sorted array:
 * one pass over both; an id already known keeps its known place, unless that one is leaving and
 * the table's is not.
 */
export function mergeSorted(user: UserChunks, table: ChunkTable): void {
  const remap = table.packs.map((pack) => packOf(user, pack));
  const merged = new Uint8Array((user.sortedCount + table.count) * CHUNK_ENTRY_BYTES);
  let a = 0;
  let b = 0;
  let out = 0;
  const a1 = user.sortedCount * CHUNK_ENTRY_BYTES;
  const b1 = table.count * CHUNK_ENTRY_BYTES;
  while (a < a1 || b < b1) {
    const order = a >= a1 ? 1 : b >= b1 ? -1 : compareIds(user.sorted, a, table.entries, b);
    if (order === 0 && movesOut(user, table, a, b)) {
      merged.set(table.entries.subarray(b, b + CHUNK_ENTRY_BYTES), out);
      setPackIndexAt(merged, out, remap[packIndexAt(table.entries, b)]);
      a += CHUNK_ENTRY_BYTES;
      b += CHUNK_ENTRY_BYTES;
    } else if (order <= 0) {
      merged.set(user.sorted.subarray(a, a + CHUNK_ENTRY_BYTES), out);
      a += CHUNK_ENTRY_BYTES;
      if (order === 0) b += CHUNK_ENTRY_BYTES;
    } else {
      merged.set(table.entries.subarray(b, b + CHUNK_ENTRY_BYTES), out);
      setPackIndexAt(merged, out, remap[packIndexAt(table.entries, b)]);
      b += CHUNK_ENTRY_BYTES;
    }
    out += CHUNK_ENTRY_BYTES;
  }
  user.sorted = out === merged.length ? merged : merged.slice(0, out);
  user.sortedCount = out / CHUNK_ENTRY_BYTES;
}

/** Whether the known entry at `a` is leaving and the table's at `b` (the same id) is not. */
function movesOut(user: UserChunks, table: ChunkTable, a: number, b: number): boolean {
  const leaving = user.leaving;
  return leaving !== undefined && leaving(user.packs[packIndexAt(user.sorted, a)]) &&
    !leaving(table.packs[packIndexAt(table.entries, b)]);
}

/** Packs (`p/USER/NAME`) by user, their names relative to the user's folder. */
export function packsByUser(packs: readonly string[]): Map<number, Set<string>> {
  const byUser = new Map<number, Set<string>>();
  for (const pack of packs) {
    const match = /^p\/(\d+)\/(.+)$/.exec(pack);
    if (!match) continue;
    const userId = Number(match[1]);
    if (!byUser.has(userId)) byUser.set(userId, new Set());
    byUser.get(userId)!.add(match[2]);
  }
  return byUser;
}
