/**
 * What a snapshot session of either engine (`embedded/snapshot_session.ts`,
 * `s3/snapshot_session.ts`) checks and bounds the same way: a commit's record checked before
 * anything else, and the trees it holds while what they name has not come, their references kept
 * back to back.
 *
 * @module
 */
import { toHex } from "../common/hex.ts";
import { LimitExceededError } from "./errors.ts";
import {
  BlobMismatchError,
  MAX_SNAPSHOT_RECORD_BYTES,
  SNAPSHOT_ID_BYTES as ID_BYTES,
  type SnapshotCommit,
} from "./snapshots.ts";
import { checkId, sameBytes, sha256 } from "./blob_check.ts";

/**
 * The least bound on the bytes of trees a session holds before they are indexed (their ids and
 * entries). An honest client's trees wait only until their pack is written (what they name comes
 * first): a pack's worth at most; a hostile one's may name blobs that never come.
 */
export const MIN_HELD_TREE_BYTES = 64 * 1024 * 1024;

/** The bytes of trees a session writing packs of `packTargetBytes` holds at most. */
export function heldTreeBytes(packTargetBytes: number): number {
  // At least a pack's worth of trees may wait, whatever the pack size.
  return Math.max(MIN_HELD_TREE_BYTES, 2 * packTargetBytes);
}

/**
 * Checks a commit's record and ids before the session does anything for it.
 *
 * @throws {LimitExceededError} if the record is over `MAX_SNAPSHOT_RECORD_BYTES`.
 * @throws {LimitExceededError} if an id is not `SNAPSHOT_ID_BYTES` long (`checkId`).
 * @throws {BlobMismatchError} if the record does not hash to the snapshot's id.
 */
export function checkSnapshotCommit(snapshot: SnapshotCommit): void {
  if (snapshot.record.length > MAX_SNAPSHOT_RECORD_BYTES) {
    throw new LimitExceededError(
      `a snapshot record of ${snapshot.record.length} bytes, over ${MAX_SNAPSHOT_RECORD_BYTES}`,
    );
  }
  checkId(snapshot.tree, "the root tree");
  checkId(snapshot.id, "the snapshot");
  if (!sameBytes(sha256(snapshot.record), snapshot.id)) {
    throw new BlobMismatchError(
      `snapshot ${toHex(snapshot.id)}`,
      "its record hashes otherwise",
    );
  }
}

/** Ids back to back in one array (a tree's references as a session keeps them). */
export function packIds(ids: readonly Uint8Array[]): Uint8Array {
  const packed = new Uint8Array(ids.length * ID_BYTES);
  ids.forEach((id, i) => packed.set(id, i * ID_BYTES));
  return packed;
}
