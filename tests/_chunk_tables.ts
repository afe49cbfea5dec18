/**
 * Chunk tables for the dedup cache's tests: an index of made-up chunks in one pack, and the id of
 * one of its entries.
 */
import {
  CHUNK_ENTRY_BYTES,
  type ChunkTable,
  ChunkTableBuilder,
  sortedById,
} from "../storage/s3/chunk_list.ts";

/** An index of `count` chunks with ids from `seed`, in `packs` by turns (or one pack), sorted by id. */
export function indexOf(
  count: number,
  seed: number,
  packs: string | readonly string[] = "0123456789abcdef.1",
): ChunkTable {
  const names = typeof packs === "string" ? [packs] : packs;
  const builder = new ChunkTableBuilder();
  const id = new Uint8Array(32);
  const view = new DataView(id.buffer);
  for (let i = 0; i < count; i++) {
    view.setUint32(0, (i * 2654435761) >>> 0);
    view.setUint32(4, seed);
    view.setUint32(8, i);
    const pack = names[i % names.length];
    builder.add({ id, pack, offset: i, storedLength: 1, rawLength: 1, compression: "none" });
  }
  return sortedById(builder.table());
}

/** The id of entry `i` of `table`. */
export const idAt = (table: ChunkTable, i: number): Uint8Array =>
  table.entries.slice(i * CHUNK_ENTRY_BYTES, i * CHUNK_ENTRY_BYTES + 32);
