/**
 * Named constants of the backup protocol, version 3: ops, statuses, blob kinds and encodings, field
 * sizes and the limits every decoder checks before it allocates (docs/protocol.md, "Version 3").
 * Version 3 keeps version 2's handshake (Hello, Auth) and refusal codes; after the handshake every
 * frame carries a tag that its answer echoes.
 *
 * @module
 */
import { REQUEST_HEAD_SIZE, RESPONSE_HEAD_SIZE } from "../constants.ts";
import {
  MAX_REFUSAL_MESSAGE_BYTES,
  PUBLIC_KEY_SIZE,
  SHA256_SIZE,
  SIGNATURE_SIZE,
} from "../v2/constants.ts";
import { MAX_SNAPSHOT_RECORD_BYTES } from "./snapshot.ts";
import { MAX_TREE_BYTES } from "./tree.ts";

/** The version byte of every version 3 request and response. */
export const PROTOCOL_VERSION_3 = 3;

/** Version 3 request operations. */
export const OpV3 = {
  /** Opens a session (untagged, as version 2's): the server answers with a nonce to sign. */
  Hello: 1,
  /** Proves the user id with an Ed25519 signature over the nonce (untagged, as version 2's). */
  Auth: 2,
  /** Which of these blob ids does the server lack? */
  Missing: 10,
  /** Stores one blob (a data chunk or a tree) whose id is the SHA-256 of its raw bytes. */
  PutBlob: 11,
  /** Fetches one blob as stored. */
  GetBlob: 12,
  /** Starts the session's upload: nothing it may rely on is collected until its commit or close. */
  OpenSnapshot: 20,
  /** Makes a snapshot and every blob it references durable and listed, at once. */
  CommitSnapshot: 21,
  /** Lists the user's snapshots, oldest first. */
  ListSnapshots: 22,
  /** Removes a snapshot from the list (its blobs go when nothing else references them). */
  ForgetSnapshot: 23,
  /** Lists the user's key slots (none: a plain repository); answered 236. */
  ListKeys: 30,
  /** Adds a key slot (the first makes the repository encrypted); answered 231. */
  AddKey: 31,
  /** Removes a key slot, never the last; answered 231 or 1001. */
  RemoveKey: 32,
  /** Runs the user's garbage collection now: what no snapshot references goes (answered 237). */
  Prune: 33,
  /** Makes the server forget blobs a check found damaged, so the next backup sends them again. */
  DropBlobs: 34,
} as const;

/** One of the version 3 operation codes. */
export type OpV3 = typeof OpV3[keyof typeof OpV3];

/** The ops of a session after its handshake: every one carries a tag. */
export type TaggedOpV3 = Exclude<OpV3, typeof OpV3.Hello | typeof OpV3.Auth>;

/** Version 3 response statuses. */
export const StatusV3 = {
  /** Answer to Hello (untagged): the nonce follows. */
  Challenge: 220,
  /** Answer to Auth (untagged): the session is authenticated; flags follow. */
  Authenticated: 221,
  /** Answer to Missing: a bitmap of the ids the server lacks. */
  MissingIds: 230,
  /** PutBlob, OpenSnapshot, ForgetSnapshot, AddKey, RemoveKey or DropBlobs done. */
  Done: 231,
  /** Answer to GetBlob: the blob as stored. */
  Blob: 232,
  /** CommitSnapshot done: the snapshot is durable and listed. */
  Committed: 233,
  /** CommitSnapshot not done: the blobs it references that the server lacks follow. */
  Incomplete: 234,
  /** Answer to ListSnapshots: entries follow, then an end mark. */
  Snapshots: 235,
  /** Answer to ListKeys: the user's key slots follow. */
  KeySlots: 236,
  /** Prune done: the bytes the user's usage dropped by and the packs removed follow. */
  Pruned: 237,
  /** No such blob, snapshot or key slot: its id follows. */
  NotFound: 1001,
  /** Refused: a refusal code (version 2's `RefusalCode`) and a message follow. */
  Refused: 1003,
} as const;

/** One of the version 3 statuses. */
export type StatusV3 = typeof StatusV3[keyof typeof StatusV3];

/** What a blob is: a piece of a file, or one folder of a snapshot (which names other blobs). */
export const BlobKind = {
  /** A chunk of a file's content. */
  Data: 0,
  /** A tree (docs/snapshots_plan.md §1.2): sent with the ids it references. */
  Tree: 1,
} as const;

/** One of the blob kinds. */
export type BlobKind = typeof BlobKind[keyof typeof BlobKind];

/** How a blob's bytes are sent and stored. */
export const BlobEncoding = {
  /** As they are: the stored length is the raw length. */
  Raw: 0,
  /** One zstd frame that decodes to the raw length. */
  Zstd: 1,
  /**
   * Sealed by the client of an encrypted repository (docs/keys_plan.md §2): the raw length is the
   * stored length, and nobody but the client can check the bytes against the id.
   */
  Sealed: 2,
} as const;

/** One of the blob encodings. */
export type BlobEncoding = typeof BlobEncoding[keyof typeof BlobEncoding];

/** Which statuses answer which op (besides 1003, which may answer any). */
export const ANSWERS: Readonly<Record<TaggedOpV3, readonly StatusV3[]>> = {
  [OpV3.Missing]: [StatusV3.MissingIds],
  [OpV3.PutBlob]: [StatusV3.Done],
  [OpV3.GetBlob]: [StatusV3.Blob, StatusV3.NotFound],
  [OpV3.OpenSnapshot]: [StatusV3.Done],
  [OpV3.CommitSnapshot]: [StatusV3.Committed, StatusV3.Incomplete],
  [OpV3.ListSnapshots]: [StatusV3.Snapshots],
  [OpV3.ForgetSnapshot]: [StatusV3.Done, StatusV3.NotFound],
  [OpV3.ListKeys]: [StatusV3.KeySlots],
  [OpV3.AddKey]: [StatusV3.Done],
  [OpV3.RemoveKey]: [StatusV3.Done, StatusV3.NotFound],
  [OpV3.Prune]: [StatusV3.Pruned],
  [OpV3.DropBlobs]: [StatusV3.Done],
};

/** Bytes of a blob or snapshot id: a SHA-256. */
export const ID_SIZE: number = SHA256_SIZE;
/** Bytes of the tag after the head of every frame past the handshake. */
export const TAG_SIZE = 4;
/** Most ids in one Missing or DropBlobs request, or one 234 answer. */
export const MAX_IDS = 8192;
/** Largest raw length of a data blob: the chunker's largest chunk (`chunking/fastcdc.ts`). */
export const MAX_DATA_BLOB_BYTES: number = 8 * 1024 * 1024;
/** Largest raw length of a tree blob (re-exported from the tree format). */
export { MAX_TREE_BYTES };
/** Largest snapshot record (re-exported from the snapshot format). */
export { MAX_SNAPSHOT_RECORD_BYTES };
/** The limits of key slots (re-exported from their module). */
export {
  KEY_SLOT_ID_BYTES,
  KEY_SLOT_ID_OFFSET,
  MAX_KEY_SLOT_BYTES,
  MAX_KEY_SLOTS,
  MIN_KEY_SLOT_BYTES,
} from "./key_slots.ts";
/**
 * How many bytes a sealed blob may be over its kind's raw limit: a seal adds 34 (version, salt,
 * encoding, tag; `client/repository_keys/blob_seal.ts`), with room for another version.
 */
export const MAX_SEAL_OVERHEAD = 64;
/** How much larger than its raw length a blob's stored bytes may be (zstd's worst case, with room). */
export const MAX_STORED_OVERHEAD: number = 64 * 1024;
/**
 * Raw bytes of a tree per id it references, at least: a tree writes each `content` and `subtree`
 * id as 64 hex digits, so a tree of n raw bytes references at most n / 64 ids (and its refs, 32
 * bytes each, are at most half its size).
 */
export const MIN_TREE_BYTES_PER_REF = 64;

/** Bytes of a tagged request's head: user id, version, op, tag. */
export const TAGGED_REQUEST_HEAD_SIZE: number = REQUEST_HEAD_SIZE + TAG_SIZE;
/** Bytes of a tagged response's head: version, status, tag. */
export const TAGGED_RESPONSE_HEAD_SIZE: number = RESPONSE_HEAD_SIZE + TAG_SIZE;
/**
 * Largest request head (what `parseRequestHeadV3` and `parseHandshakeRequestV3` read before the
 * body): an Auth. A reader's buffer of this size holds any head.
 */
export const MAX_REQUEST_HEAD_SIZE_V3: number = REQUEST_HEAD_SIZE + PUBLIC_KEY_SIZE +
  SIGNATURE_SIZE;
/** Largest response head (before the body): a tagged 1003 with the longest message. */
export const MAX_RESPONSE_HEAD_SIZE_V3: number = TAGGED_RESPONSE_HEAD_SIZE + 2 + 2 +
  MAX_REFUSAL_MESSAGE_BYTES;
/**
 * Largest body of one frame: a tree's refs (at most half its raw length) and its stored bytes.
 * Every other body is smaller (8192 ids are 256 KiB; a data blob 8 MiB + 64 KiB).
 */
export const MAX_BODY_SIZE_V3: number = MAX_TREE_BYTES / MIN_TREE_BYTES_PER_REF * ID_SIZE +
  MAX_TREE_BYTES + MAX_STORED_OVERHEAD;

/** What an Auth signature covers first: ties the signature to this protocol version and step. */
export const AUTH_CONTEXT_V3: Uint8Array = new TextEncoder().encode("backup-protocol-v3 auth\0");
