/**
 * The records part of a GC run's mark (step 3 of docs/s3_repository_plan.md §3.3): LIST `u/`,
 * GET every `c` record's chunk list, and from them, per user, what is live and where:
 *
 * - the packs any list names (`p/USER/NAME`), which no run may doom;
 * - the live chunks once per place (pack and offset), sorted by pack then offset, and each pack's
 *   live bytes: what repack (`repack.ts`) compares with the pack's size, and copies;
 * - the live chunks once per id, sorted by id: the consolidated index of step 6;
 * - which records name which packs: those repack must rewrite.
 *
 * It also has the table helpers of the run: `withoutPacks` and `indexBodies` (step 6).
 *
 * A list deleted since the LIST (retention, on any server) is passed over: it protects nothing any
 * more. A list that does not decode stops the run (`CorruptStoreError`) before anything is deleted.
 *
 * Memory: 48 bytes per chunk reference while the lists are read, then at most twice 48 bytes per
 * live chunk (once per place, once per id), plus the record keys of chunked versions.
 *
 * @module
 */
import type { S3Client } from "../../objects/s3/s3_client.ts";
import {
  chunkAt,
  type ChunkTable,
  ChunkTableBuilder,
  decodeChunkTable,
  encodeChunkTable,
  sortedById,
} from "./chunk_list.ts";
import { CHUNK_ENTRY_BYTES, compareIds, locationOf, packIndexAt } from "./chunk_entry.ts";
import { getOrGone, inParallel } from "./gc_requests.ts";
import { histories } from "./histories.ts";
import { recordsRoot } from "./keys.ts";

/** A `c` record the mark read, with the packs its list names. */
export interface MarkedRecord {
  userId: number;
  /** The record's whole key. */
  key: string;
  /** `p/USER/NAME`, each once. */
  packs: readonly string[];
}

/** What the records say is live. */
export interface RecordsMark {
  /** Every pack a list names (`p/USER/NAME`). */
  referenced: Set<string>;
  /** Per user: the live chunks, each id once, sorted by id (one place each). */
  byId: Map<number, ChunkTable>;
  /** Per user: the live chunks, each place once, sorted by pack, then offset. */
  byPlace: Map<number, ChunkTable>;
  /** Stored bytes of the live chunks in each pack (`p/USER/NAME`). */
  liveBytes: Map<string, number>;
  /** The `c` records read (not those gone since the LIST). */
  records: MarkedRecord[];
  /** `c` records listed. */
  lists: number;
}

/**
 * Reads every `c` record's list; see the module comment.
 *
 * @throws {S3Error} if the store failed a request, {CorruptStoreError} if a list does not decode.
 */
export async function markRecords(client: S3Client, prefix: string): Promise<RecordsMark> {
  const chunked: { userId: number; key: string }[] = [];
  const root = recordsRoot(prefix);
  for await (const history of histories(client, root, root)) {
    for (const record of history.records) {
      if (record.fields.kind === "file" && record.fields.chunks) {
        chunked.push({ userId: history.userId, key: record.key });
      }
    }
  }
  const referenced = new Set<string>();
  // One string per pack, however many records name it.
  const names = new Map<string, string>();
  const records: MarkedRecord[] = [];
  const builders = new Map<number, ChunkTableBuilder>();
  await inParallel(chunked, async ({ userId, key }) => {
    const bytes = await getOrGone(client, key);
    if (!bytes) return;
    const list = decodeChunkTable("list", bytes);
    const packs = list.packs.map((pack) => {
      const name = `p/${userId}/${pack}`;
      if (!names.has(name)) names.set(name, name);
      return names.get(name)!;
    });
    for (const pack of packs) referenced.add(pack);
    records.push({ userId, key, packs: [...new Set(packs)] });
    let builder = builders.get(userId);
    if (!builder) builders.set(userId, builder = new ChunkTableBuilder());
    for (let i = 0; i < list.count; i++) builder.add(chunkAt(list, i));
  });
  const byId = new Map<number, ChunkTable>();
  const byPlace = new Map<number, ChunkTable>();
  const liveBytes = new Map<string, number>();
  for (const [userId, builder] of builders) {
    const placed = distinctByPlace(builder.table());
    byPlace.set(userId, placed);
    byId.set(userId, distinctById(placed));
    for (let at = 0; at < placed.count * CHUNK_ENTRY_BYTES; at += CHUNK_ENTRY_BYTES) {
      const chunk = locationOf(placed.entries, at, placed.packs);
      const pack = `p/${userId}/${chunk.pack}`;
      liveBytes.set(pack, (liveBytes.get(pack) ?? 0) + chunk.storedLength);
    }
  }
  return { referenced, byId, byPlace, liveBytes, records, lists: chunked.length };
}

/** `table` sorted by pack, then offset, each place once. */
export function distinctByPlace(table: ChunkTable): ChunkTable {
  // Pack index and offset as one number: both are u32, and pack indexes stay far below 2^21.
  const places = new Float64Array(table.count);
  for (let i = 0; i < table.count; i++) {
    const at = i * CHUNK_ENTRY_BYTES;
    places[i] = packIndexAt(table.entries, at) * 2 ** 32 +
      locationOf(table.entries, at, table.packs).offset;
  }
  const order = Array.from({ length: table.count }, (_, i) => i);
  order.sort((a, b) => places[a] - places[b]);
  const entries = new Uint8Array(table.count * CHUNK_ENTRY_BYTES);
  let out = 0;
  order.forEach((i, n) => {
    if (n > 0 && places[order[n - 1]] === places[i]) return;
    const from = i * CHUNK_ENTRY_BYTES;
    entries.set(table.entries.subarray(from, from + CHUNK_ENTRY_BYTES), out);
    out += CHUNK_ENTRY_BYTES;
  });
  return { packs: table.packs, entries: entries.subarray(0, out), count: out / CHUNK_ENTRY_BYTES };
}

/** `table` sorted by id, each id once. */
export function distinctById(table: ChunkTable): ChunkTable {
  const sorted = sortedById(table);
  const entries = sorted.entries;
  let out = 0;
  for (let at = 0; at < sorted.count * CHUNK_ENTRY_BYTES; at += CHUNK_ENTRY_BYTES) {
    if (out > 0 && compareIds(entries, out - CHUNK_ENTRY_BYTES, entries, at) === 0) continue;
    if (out !== at) entries.copyWithin(out, at, at + CHUNK_ENTRY_BYTES);
    out += CHUNK_ENTRY_BYTES;
  }
  return { packs: sorted.packs, entries: entries.subarray(0, out), count: out / CHUNK_ENTRY_BYTES };
}

/** `table` without the entries whose pack `dropped` says. */
export function withoutPacks(table: ChunkTable, dropped: (pack: string) => boolean): ChunkTable {
  const drop = table.packs.map(dropped);
  if (!drop.includes(true)) return table;
  const entries = new Uint8Array(table.count * CHUNK_ENTRY_BYTES);
  let out = 0;
  for (let at = 0; at < table.count * CHUNK_ENTRY_BYTES; at += CHUNK_ENTRY_BYTES) {
    if (drop[packIndexAt(table.entries, at)]) continue;
    entries.set(table.entries.subarray(at, at + CHUNK_ENTRY_BYTES), out);
    out += CHUNK_ENTRY_BYTES;
  }
  return { packs: table.packs, entries: entries.subarray(0, out), count: out / CHUNK_ENTRY_BYTES };
}

/** Index entries per index object (as deltas: restic's `indexMaxBlobs`). */
export const INDEX_MAX_ENTRIES = 50_000;

/** BKIDX001 bodies of `table` (sorted by id), `INDEX_MAX_ENTRIES` entries each. */
export function indexBodies(table: ChunkTable): Uint8Array[] {
  const bodies: Uint8Array[] = [];
  for (let from = 0; from < table.count; from += INDEX_MAX_ENTRIES) {
    const count = Math.min(INDEX_MAX_ENTRIES, table.count - from);
    const entries = table.entries.subarray(
      from * CHUNK_ENTRY_BYTES,
      (from + count) * CHUNK_ENTRY_BYTES,
    );
    bodies.push(encodeChunkTable("index", { packs: table.packs, entries, count }));
  }
  return bodies;
}
