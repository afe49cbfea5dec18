/**
 * Version 3 requests after the handshake, as values: one interface per operation (`RequestV3`),
 * and a request's head (`RequestHeadV3`: its fixed fields and the length of its body). Parsed by
 * `request_decode.ts`, encoded by `request_encode.ts`; `requests.ts` re-exports all three.
 *
 * @module
 */
import type { BlobHead } from "./blob_head.ts";
import type { OpV3 } from "./constants.ts";

/** AddKey's flags bit 0: only as the user's first slot (`init`). */
export const ADD_KEY_FIRST = 1;

/** What every request after the handshake carries. */
export interface Tagged {
  /** The user the request acts for (the authenticated one). */
  userId: number;
  /** Chosen by the client; the answer echoes it. */
  tag: number;
}

/** Which of `ids` (1..8192) does the server lack? Answered 230. */
export interface MissingRequest extends Tagged {
  /** The operation. */
  op: typeof OpV3.Missing;
  /** Blob ids, 32 bytes each. */
  ids: Uint8Array[];
}

/** Stores a blob. Answered 231, or 1003 code 6 when its raw bytes do not hash to `id`. */
export interface PutBlobRequest extends Tagged, Omit<BlobHead, "storedLength"> {
  /** The operation. */
  op: typeof OpV3.PutBlob;
  /** SHA-256 of the raw bytes. */
  id: Uint8Array;
  /** Ids the tree references (deduplicated); always empty for a data blob. */
  refs: Uint8Array[];
  /** The bytes as sent (raw, or one zstd frame). */
  bytes: Uint8Array;
}

/** Fetches a blob as stored. Answered 232 or 1001. */
export interface GetBlobRequest extends Tagged {
  /** The operation. */
  op: typeof OpV3.GetBlob;
  /** The blob's id. */
  id: Uint8Array;
}

/** Starts the session's upload. Answered 231. */
export interface OpenSnapshotRequest extends Tagged {
  /** The operation. */
  op: typeof OpV3.OpenSnapshot;
}

/** Commits a snapshot. Answered 233 (committed) or 234 (blobs missing; nothing committed). */
export interface CommitSnapshotRequest extends Tagged {
  /** The operation. */
  op: typeof OpV3.CommitSnapshot;
  /** SHA-256 of `record`. */
  id: Uint8Array;
  /** The root tree's id. */
  tree: Uint8Array;
  /** The snapshot record (1..64 KiB), stored as sent. */
  record: Uint8Array;
}

/** Lists the user's snapshots. Answered 235 and its entries. */
export interface ListSnapshotsRequest extends Tagged {
  /** The operation. */
  op: typeof OpV3.ListSnapshots;
}

/** Forgets a snapshot. Answered 231 or 1001. */
export interface ForgetSnapshotRequest extends Tagged {
  /** The operation. */
  op: typeof OpV3.ForgetSnapshot;
  /** The snapshot's id. */
  id: Uint8Array;
}

/** Lists the user's key slots. Answered 236. */
export interface ListKeysRequest extends Tagged {
  /** The operation. */
  op: typeof OpV3.ListKeys;
}

/**
 * Adds a key slot (17..4096 bytes; its id is bytes 1..17). The same slot again is done, unchanged.
 * Answered 231, or 1003: code 3 for a slot of that id with other bytes, a first slot of a user
 * with plain snapshots, or `first` for a user who has a slot; code 4 past 16 slots.
 */
export interface AddKeyRequest extends Tagged {
  /** The operation. */
  op: typeof OpV3.AddKey;
  /** Only as the user's first slot (`init`): refused if the user has one (flags bit 0). */
  first: boolean;
  /** The slot, opaque to the server besides its id. */
  slot: Uint8Array;
}

/**
 * Removes a key slot. Answered 231, 1001 (its id: the slot id, then 16 zero bytes), or 1003 code 3
 * for the user's last slot or an append-only account.
 */
export interface RemoveKeyRequest extends Tagged {
  /** The operation. */
  op: typeof OpV3.RemoveKey;
  /** The slot's id, 16 bytes. */
  slotId: Uint8Array;
}

/**
 * Runs the user's garbage collection now (blobs younger than the grace period and those of open
 * sessions stay). Answered 237, or 1003 code 3 for an append-only account, code 8 when another
 * server holds the prune lock.
 */
export interface PruneRequest extends Tagged {
  /** The operation. */
  op: typeof OpV3.Prune;
}

/**
 * Asks the server to forget blobs found damaged (1..8192 ids), so that its next Missing reports
 * them and a backup sends them again; the server drops only those whose stored bytes do not hash
 * to their id (good data stays). Answered 231, or 1003 code 3 for an append-only account.
 */
export interface DropBlobsRequest extends Tagged {
  /** The operation. */
  op: typeof OpV3.DropBlobs;
  /** Blob ids, 32 bytes each. */
  ids: Uint8Array[];
}

/** Any version 3 request after the handshake. */
export type RequestV3 =
  | MissingRequest
  | PutBlobRequest
  | GetBlobRequest
  | OpenSnapshotRequest
  | CommitSnapshotRequest
  | ListSnapshotsRequest
  | ForgetSnapshotRequest
  | ListKeysRequest
  | AddKeyRequest
  | RemoveKeyRequest
  | PruneRequest
  | DropBlobsRequest;

/** A request's head: its fixed fields, and the length of the body that follows. */
export type RequestHeadV3 =
  & (
    | (Tagged & { op: typeof OpV3.Missing | typeof OpV3.DropBlobs; count: number })
    | (Tagged & BlobHead & { op: typeof OpV3.PutBlob; id: Uint8Array; refCount: number })
    | (Tagged & { op: typeof OpV3.CommitSnapshot; id: Uint8Array; tree: Uint8Array })
    | GetBlobRequest
    | OpenSnapshotRequest
    | ListSnapshotsRequest
    | ForgetSnapshotRequest
    | ListKeysRequest
    | (Tagged & { op: typeof OpV3.AddKey; first: boolean })
    | RemoveKeyRequest
    | PruneRequest
  )
  & {
    /** Bytes of the body after the head: checked against the limits before it is returned. */
    bodyLength: number;
  };
