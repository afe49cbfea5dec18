/**
 * DropBlobs (`repair`, docs/keys_plan.md §7) on the S3 repository: blobs of a user read again at
 * the place the index gives them, and those whose bytes are bad dropped by one immutable **drop
 * record** `r/USER/RANDOM` per request (docs/storage.md "Snapshots on S3": repair). A record is a
 * BKIDX002 table (`chunk_list.ts`) of the places dropped: each blob's id with the pack and offset
 * it was dropped at, so a later copy of the same id elsewhere is never dropped by it. Every
 * server's snapshot cache applies the records it lists (`DedupCache`, option `drops`), and so does
 * garbage collection's mark (`snapshot_mark.ts`), which deletes a record once every pack it names
 * is gone.
 *
 * One PUT is the whole change (no conditional write, nothing to undo): a server killed before it
 * dropped nothing; after it, the drop holds for every server from its next refresh.
 *
 * @module
 */
import { toHex } from "../../common/hex.ts";
import { ObjectNotFoundError, type ObjectStore } from "../../objects/object_store.ts";
import { LimitExceededError } from "../errors.ts";
import { BlobMismatchError } from "../snapshots.ts";
import { checkBlob } from "../blob_check.ts";
import { checkDropBudget, dropRequestIds, MAX_DROP_READ_BYTES } from "../drop_request.ts";
import {
  chunkAt,
  type ChunkTable,
  ChunkTableBuilder,
  encodeChunkTable,
  sortedById,
} from "./chunk_list.ts";
import type { ChunkLocation } from "./chunk_entry.ts";
import { encodingOfCompression } from "../sealed_blobs.ts";
import { randomId } from "./gc_objects.ts";
import { packsFolder } from "./keys.ts";

export { MAX_DROP_READ_BYTES };

/** The folder of a user's drop records, as an object name: `r/USER/` (`d/` holds data objects). */
export function dropsFolder(userId: number): string {
  return `r/${userId}/`;
}

/** The key of one dropped place: the blob's id, its pack (relative to `p/USER/`), its offset. */
export function dropKey(id: Uint8Array, pack: string, offset: number): string {
  return `${toHex(id)} ${pack} ${offset}`;
}

/** The dropped places of a decoded drop record, as `dropKey`s. */
export function dropKeysOf(table: ChunkTable): string[] {
  const keys: string[] = [];
  for (let i = 0; i < table.count; i++) {
    const { id, pack, offset } = chunkAt(table, i);
    keys.push(dropKey(id, pack, offset));
  }
  return keys;
}

/** What a drop works with, given by the snapshot store. */
export interface DropContext {
  /** The bucket below the store's prefix. */
  objects: ObjectStore;
  appendOnlyOf(userId: number): boolean;
  /** Where the user's blob is, as this server's snapshot cache knows it now (refreshed first). */
  locate(userId: number, id: Uint8Array): Promise<ChunkLocation | undefined>;
  /**
   * Told once record `name` (`r/USER/RAND`, below `objects`) is stored with the places `record`:
   * this server's cache stops looking them up at once (others at their next refresh).
   */
  dropped(userId: number, name: string, record: ChunkTable): void;
}

/**
 * Reads each blob of `ids` the user has, at the place the index gives, and drops (one PUT of a
 * drop record) those whose bytes cannot be read whole or do not hash to their id, and every sealed
 * one (only the client can open it: dropped as asked). Blobs are read one at a time: memory holds
 * one blob.
 *
 * @returns the ids dropped.
 * @throws {DeleteRefusedError} if the user is append-only.
 * @throws {LimitExceededError} for more than `MAX_MISSING_IDS` ids, or more than
 *   `MAX_DROP_READ_BYTES` to read (refused before any read).
 */
export async function dropBadBlobs(
  ctx: DropContext,
  userId: number,
  ids: Uint8Array[],
): Promise<Uint8Array[]> {
  const found: ChunkLocation[] = [];
  for (const id of dropRequestIds(ctx.appendOnlyOf(userId), userId, ids)) {
    const location = await ctx.locate(userId, id);
    if (location) found.push({ ...location, id: location.id.slice() });
  }
  checkDropBudget(found.length, found.reduce((sum, location) => sum + location.storedLength, 0));
  const bad: ChunkLocation[] = [];
  for (const location of found) {
    if (await isBad(ctx.objects, userId, location)) bad.push(location);
  }
  if (bad.length === 0) return [];
  const builder = new ChunkTableBuilder();
  for (const location of bad) builder.add(location);
  const name = `${dropsFolder(userId)}${randomId()}`;
  const record = sortedById(builder.table());
  await ctx.objects.put(name, encodeChunkTable("blobs", record));
  ctx.dropped(userId, name, record);
  return bad.map((location) => location.id);
}

/** Whether the blob's bytes at `location` are bad (see `dropBadBlobs`). */
async function isBad(
  objects: ObjectStore,
  userId: number,
  location: ChunkLocation,
): Promise<boolean> {
  // A sealed blob's id is the client's keyed HMAC: the server cannot check it. The client opened
  // it and found it bad; a client lying hurts only its own repository (the next backup sends the
  // blob again, and a good blob dropped is missing only until then).
  if (location.compression === "sealed") return true;
  let bytes: Uint8Array;
  try {
    bytes = await objects.get(`${packsFolder(userId)}${location.pack}`, {
      offset: location.offset,
      length: location.storedLength,
    });
  } catch (error) {
    // Its pack gone: the bytes cannot be had at this place, which is as bad as wrong bytes.
    if (error instanceof ObjectNotFoundError) return true;
    throw error;
  }
  if (bytes.length !== location.storedLength) return true;
  try {
    checkBlob({
      id: location.id,
      kind: location.kind === "tree" ? "tree" : "data",
      encoding: encodingOfCompression(location.compression),
      rawLength: location.rawLength,
      bytes,
    });
    return false;
  } catch (error) {
    if (error instanceof BlobMismatchError || error instanceof LimitExceededError) return true;
    throw error;
  }
}
