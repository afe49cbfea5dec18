/**
 * What a `DedupCache` does with a user's drop records (`r/USER/*`, `snapshot_drops.ts`): each held
 * once, its places forgotten and never taken from an index object read later, and forgotten once
 * a listing no longer shows it.
 *
 * @module
 */
import { toHex } from "../../common/hex.ts";
import { chunkAt, type ChunkTable } from "./chunk_list.ts";
import {
  CHUNK_ENTRY_BYTES,
  CHUNK_ID_BYTES,
  type ChunkLocation,
  locationOf,
} from "./chunk_entry.ts";
import { sortedIndexOf, type UserChunks, withoutEntries } from "./dedup_user_chunks.ts";
import { dropKey, dropKeysOf } from "./snapshot_drops.ts";

/**
 * Holds drop record `name` (its places `table`) and forgets the user's entries at those places: an
 * id whose kept place is dropped leaves the cache (it is then missing, and stored again: a dedup
 * miss) rather than every index object being read again for another place of it.
 *
 * @param listedBy the number of the listing that showed it; none for a record written here
 * @returns whether the record was new to the user
 */
export function applyDrops(
  user: UserChunks,
  name: string,
  table: ChunkTable,
  listedBy?: number,
): boolean {
  if (user.dropsRead.has(name)) return false;
  const keys = dropKeysOf(table);
  user.dropsRead.set(name, { keys, listedBy });
  for (const key of keys) user.dropped.add(key);
  const gone = new Set<number>();
  for (let i = 0; i < table.count; i++) {
    const { id, pack, offset } = chunkAt(table, i);
    const at = sortedIndexOf(user, id);
    if (
      at >= 0 && isAt(locationOf(user.sorted, at * CHUNK_ENTRY_BYTES, user.packs), pack, offset)
    ) {
      gone.add(at);
    }
    const hex = toHex(id.subarray(0, CHUNK_ID_BYTES));
    const entry = user.recent.get(hex);
    if (entry && isAt(locationOf(entry, 0, user.packs), pack, offset)) user.recent.delete(hex);
  }
  if (gone.size > 0) {
    user.sorted = withoutEntries(user.sorted, user.sortedCount, (at) => gone.has(at));
    user.sortedCount = user.sorted.length / CHUNK_ENTRY_BYTES;
  }
  return true;
}

/**
 * Forgets the drop records held that listing number `listing` (`listed`: every name it showed) no
 * longer shows although an earlier listing did: garbage collection deleted them once every pack
 * they name was gone, so no entry can lead to their places any more. A record shown is marked as
 * listed by it.
 */
export function pruneDrops(user: UserChunks, listed: ReadonlySet<string>, listing: number): void {
  let pruned = false;
  for (const [name, held] of user.dropsRead) {
    if (listed.has(name)) {
      held.listedBy = Math.max(held.listedBy ?? listing, listing);
    } else if (held.listedBy !== undefined && held.listedBy < listing) {
      user.dropsRead.delete(name);
      pruned = true;
    }
  }
  if (!pruned) return;
  // Two records may name one place: the set is made again from the records still held.
  user.dropped.clear();
  for (const held of user.dropsRead.values()) {
    for (const key of held.keys) user.dropped.add(key);
  }
}

function isAt(location: ChunkLocation, pack: string, offset: number): boolean {
  return location.pack === pack && location.offset === offset;
}

/** `table` without the entries at places the user's drop records name. */
export function withoutDropped(user: UserChunks, table: ChunkTable): ChunkTable {
  if (user.dropped.size === 0) return table;
  const kept = new Uint8Array(table.count * CHUNK_ENTRY_BYTES);
  let out = 0;
  for (let i = 0; i < table.count; i++) {
    const { id, pack, offset } = chunkAt(table, i);
    if (user.dropped.has(dropKey(id, pack, offset))) continue;
    const at = i * CHUNK_ENTRY_BYTES;
    kept.set(table.entries.subarray(at, at + CHUNK_ENTRY_BYTES), out);
    out += CHUNK_ENTRY_BYTES;
  }
  return { packs: table.packs, entries: kept.subarray(0, out), count: out / CHUNK_ENTRY_BYTES };
}
