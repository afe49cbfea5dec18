/**
 * A user's usage on S3, counted from listings: the records' histories, the user's packs (chunks
 * are shared by versions and names, so a pack counts once, as it is), snapshot objects and key
 * slots. `UsageEstimates` (`quota.ts`) keeps the figure between listings.
 *
 * @module
 */
import type { S3Client } from "../../objects/s3/s3_client.ts";
import type { S3ObjectStore } from "../../objects/s3_store.ts";
import { VERSION_OVERHEAD_BYTES } from "../quota_charge.ts";
import { histories, historyBytes } from "./histories.ts";
import { packsFolder, recordsRoot, userRecordsPrefix } from "./keys.ts";
import { keySlotsUsage } from "./key_slots.ts";
import { recordChargeOf } from "./quota.ts";
import { snapshotsFolder } from "./snapshot_objects.ts";

/** Where a user's usage is listed. */
export interface UsageListingOptions {
  /** The bucket's client (records are listed through it). */
  client: S3Client;
  /** The key prefix of this server's objects. */
  prefix: string;
  /** The bucket as an object store below the prefix (packs, snapshots, key slots). */
  objects: S3ObjectStore;
}

/** Bytes of a snapshot object before its record (magic and root tree id). */
const SNAPSHOT_HEADER_BYTES = 40;

/** Bytes of the user's versions, packs, snapshots and key slots, listed now. */
export async function listUsage(options: UsageListingOptions, userId: number): Promise<number> {
  const { client, prefix, objects } = options;
  let bytes = 0;
  const userPrefix = userRecordsPrefix(prefix, userId);
  for await (const history of histories(client, recordsRoot(prefix), userPrefix)) {
    bytes += historyBytes(history) + history.records.length * recordChargeOf(history.name);
  }
  // Chunks are shared by versions (and names): the user's packs count once, as they are.
  for await (const pack of objects.list(packsFolder(userId))) bytes += pack.size;
  // A snapshot counts its record and the overhead of a version (its object: tree id, magic).
  for await (const snapshot of objects.list(snapshotsFolder(userId))) {
    bytes += Math.max(0, snapshot.size - SNAPSHOT_HEADER_BYTES) + VERSION_OVERHEAD_BYTES;
  }
  bytes += await keySlotsUsage(objects, userId); // each slot as a record
  return bytes;
}
