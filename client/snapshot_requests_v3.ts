/**
 * A version 3 session's snapshot requests (`SessionV3`, client/session_v3.ts, documents each):
 * open, commit, list and forget snapshots, and prune the user's garbage. A listed snapshot is
 * checked against its id, and opened with the session's codec.
 *
 * @module
 */
import { ID_SIZE, OpV3, StatusV3, TAGGED_REQUEST_HEAD_SIZE } from "../protocol/v3/constants.ts";
import type { SnapshotEntry } from "../protocol/v3/responses.ts";
import { hexId, idBytes, sha256Hex } from "./blob_wire_v3.ts";
import { EntryQueue } from "./entry_queue_v3.ts";
import { SealBrokenError } from "./repository_keys/errors.ts";
import type { SessionRequesterV3 } from "./session_requester_v3.ts";
import type { BlobId } from "./snapshot/blobs.ts";

/** Snapshots held between the reader and a consumer of `listSnapshots` slower than the server. */
const LIST_QUEUE_ENTRIES = 64;

/** What a commit did: committed, or not, for want of the blobs listed (send them, then again). */
export interface CommitResult {
  /** The snapshot's id: the SHA-256 of its record, as hex. */
  id: string;
  /** True if the snapshot is durable and listed. */
  committed: boolean;
  /** Blobs the snapshot references that the server lacks (at most 8192 at a time); else empty. */
  missing: BlobId[];
}

/** What a prune freed (`SessionV3.prune`). */
export interface PruneResult {
  /** Bytes the user's usage dropped by. */
  bytesFreed: number;
  /** Packs the server removed or repacked away. */
  packsRemoved: number;
}

/** A snapshot as listed: its id (checked against its record), when it was stored, its record. */
export interface ListedSnapshot {
  /** SHA-256 of the record as sent, as hex. */
  id: string;
  /** When the server committed it, milliseconds since the epoch. */
  storedMs: number;
  /** The record as the client that made it sent it, opened if sealed (`decodeSnapshot` reads it). */
  record: Uint8Array;
  /** An encrypted repository's: the record as sent and stored, sealed (its SHA-256 is `id`). */
  sent?: Uint8Array;
}

/** `SessionV3.openSnapshot`: starts a snapshot's upload. */
export async function openSnapshot(requests: SessionRequesterV3): Promise<void> {
  await requests.call(OpV3.OpenSnapshot, TAGGED_REQUEST_HEAD_SIZE, { op: OpV3.OpenSnapshot });
}

/** `SessionV3.commitSnapshot`: commits a record, or lists the blobs the server lacks. */
export async function commitSnapshot(
  requests: SessionRequesterV3,
  record: Uint8Array,
  tree: BlobId,
): Promise<CommitResult> {
  const sent = requests.codec.sealRecord(record);
  const id = sha256Hex(sent);
  const answer = await requests.call(
    OpV3.CommitSnapshot,
    TAGGED_REQUEST_HEAD_SIZE + 2 * ID_SIZE + 4 + sent.length,
    { op: OpV3.CommitSnapshot, id: idBytes(id), tree: idBytes(tree), record: sent },
  );
  if (answer.status === StatusV3.Committed) return { id, committed: true, missing: [] };
  const missing = (answer as { ids: Uint8Array[] }).ids.map(hexId);
  return { id, committed: false, missing };
}

/** `SessionV3.listSnapshots`: the user's snapshots, oldest first, each checked and opened. */
export async function* listSnapshots(
  requests: SessionRequesterV3,
): AsyncGenerator<ListedSnapshot> {
  const queue = new EntryQueue<SnapshotEntry>(LIST_QUEUE_ENTRIES);
  await requests.call(OpV3.ListSnapshots, TAGGED_REQUEST_HEAD_SIZE, {
    op: OpV3.ListSnapshots,
  }, queue);
  for await (const entry of queue) {
    const id = hexId(entry.id);
    if (sha256Hex(entry.record) !== id) {
      throw requests.broken(`snapshot ${id} listed with a record that does not hash to its id`);
    }
    if (!requests.codec.encrypted) {
      yield { id, storedMs: entry.storedMs, record: entry.record };
      continue;
    }
    let record: Uint8Array;
    try {
      record = requests.codec.openRecord(entry.record);
    } catch (error) {
      if (!(error instanceof SealBrokenError)) throw error;
      requests.onUnreadable?.(id, error);
      continue;
    }
    yield { id, storedMs: entry.storedMs, record, sent: entry.record };
  }
}

/** `SessionV3.forgetSnapshot`: forgets a snapshot. */
export async function forgetSnapshot(requests: SessionRequesterV3, id: string): Promise<void> {
  await requests.call(OpV3.ForgetSnapshot, TAGGED_REQUEST_HEAD_SIZE + ID_SIZE, {
    op: OpV3.ForgetSnapshot,
    id: idBytes(id),
  });
}

/** `SessionV3.prune`: has the server collect the user's garbage now. */
export async function prune(requests: SessionRequesterV3): Promise<PruneResult> {
  const answer = await requests.call(OpV3.Prune, TAGGED_REQUEST_HEAD_SIZE, { op: OpV3.Prune });
  const { bytesFreed, packsRemoved } = answer as PruneResult;
  return { bytesFreed, packsRemoved };
}
