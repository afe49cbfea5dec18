/**
 * Version 3 requests after the handshake: version 1's head (user id 4, version 1 = 3, op 1), a tag
 * u32, fixed fields (the head), then a body whose length the head declares (ids, a blob's refs and
 * bytes, a snapshot record). A reader parses the head with `parseRequestHeadV3` (its buffer needs
 * `MAX_REQUEST_HEAD_SIZE_V3` bytes), reads `bodyLength` bytes, checked against the limits before it
 * is returned, and completes the request with `decodeRequestBodyV3`. See docs/protocol.md.
 *
 * @module
 */
import { checkRange, type FieldReader, FieldWriter, parseWith } from "../v2/fields.ts";
import { BLOB_HEAD_SIZE, type BlobHead, blobHeadFault, readBlobHead } from "./blob_head.ts";
import {
  BlobKind,
  ID_SIZE,
  MAX_SNAPSHOT_RECORD_BYTES,
  MIN_TREE_BYTES_PER_REF,
  OpV3,
  PROTOCOL_VERSION_3,
  TAGGED_REQUEST_HEAD_SIZE,
} from "./constants.ts";
import { TaggedProtocolError } from "./errors.ts";

/** AddKey's flags bit 0: only as the user's first slot (`init`). */
export const ADD_KEY_FIRST = 1;
import { checkCount, checkId, checkIds, readCount, splitIds } from "./ids.ts";
import {
  checkKeySlotId,
  KEY_SLOT_ID_BYTES,
  keySlotLengthFault,
  readKeySlotLength,
} from "./key_slots.ts";

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

/**
 * Parses a request's head from the start of `bytes`; `undefined` while incomplete. Each field is
 * checked as soon as it is in, so `bodyLength` is bounded by the limits (at most
 * `MAX_BODY_SIZE_V3`) before anyone allocates for it.
 *
 * @throws {TaggedProtocolError} for a version other than 3, an unknown op, a count or length out of
 *   range, an unknown blob kind or encoding, refs on a data blob.
 * @example
 * ```ts
 * import { parseRequestHeadV3 } from "./requests.ts";
 * import assert from "node:assert/strict";
 * const head = parseRequestHeadV3(new Uint8Array([77, 0, 0, 0, 3, 22, 7, 0, 0, 0]));
 * assert.deepEqual(head, { op: 22, userId: 77, tag: 7, bodyLength: 0, byteLength: 10 });
 * ```
 */
export function parseRequestHeadV3(
  bytes: Uint8Array,
): (RequestHeadV3 & { byteLength: number }) | undefined {
  return parseWith(bytes, (reader): RequestHeadV3 => {
    const userId = reader.u32();
    const version = reader.u8();
    const op = reader.u8();
    const tag = reader.u32();
    const fail = (message: string): never => {
      throw new TaggedProtocolError(message, tag);
    };
    if (version !== PROTOCOL_VERSION_3) fail(`version ${version} request in a version 3 session`);
    switch (op) {
      case OpV3.Missing:
      case OpV3.DropBlobs: {
        const count = readCount(reader, "ids", fail);
        return { op, userId, tag, count, bodyLength: count * ID_SIZE };
      }
      case OpV3.PutBlob: {
        const id = readId(reader);
        const blob = readBlobHead(reader, fail);
        const refCount = reader.u32();
        if (blob.kind === BlobKind.Data && refCount !== 0) fail(`${refCount} refs on a data blob`);
        const maxRefs = Math.floor(blob.rawLength / MIN_TREE_BYTES_PER_REF);
        if (refCount > maxRefs) fail(`${refCount} refs for a tree of ${blob.rawLength} bytes`);
        const bodyLength = refCount * ID_SIZE + blob.storedLength;
        return { op, userId, tag, id, ...blob, refCount, bodyLength };
      }
      case OpV3.CommitSnapshot: {
        const id = readId(reader);
        const tree = readId(reader);
        const length = reader.u32();
        if (length < 1 || length > MAX_SNAPSHOT_RECORD_BYTES) {
          fail(`snapshot record of ${length} bytes, must be 1..${MAX_SNAPSHOT_RECORD_BYTES}`);
        }
        return { op, userId, tag, id, tree, bodyLength: length };
      }
      case OpV3.GetBlob:
      case OpV3.ForgetSnapshot:
        return { op, userId, tag, id: readId(reader), bodyLength: 0 };
      case OpV3.AddKey: {
        const flags = reader.u8();
        if ((flags & ~ADD_KEY_FIRST) !== 0) fail(`AddKey flags ${flags}: only bit 0 is defined`);
        const first = (flags & ADD_KEY_FIRST) !== 0;
        return { op, userId, tag, first, bodyLength: readKeySlotLength(reader, fail) };
      }
      case OpV3.RemoveKey:
        return { op, userId, tag, slotId: reader.bytes(KEY_SLOT_ID_BYTES).slice(), bodyLength: 0 };
      case OpV3.OpenSnapshot:
      case OpV3.ListSnapshots:
      case OpV3.ListKeys:
      case OpV3.Prune:
        return { op, userId, tag, bodyLength: 0 };
      default:
        return fail(`unknown version 3 op ${op}`);
    }
  });
}

/**
 * Completes a request with its body (`head.bodyLength` bytes). Ids, refs, bytes and the record are
 * views into `body`, valid while it is.
 *
 * @throws {RangeError} if `body` is not `head.bodyLength` bytes long (the caller's mistake).
 */
export function decodeRequestBodyV3(head: RequestHeadV3, body: Uint8Array): RequestV3 {
  if (body.length !== head.bodyLength) {
    throw new RangeError(`body of ${body.length} bytes, the head declares ${head.bodyLength}`);
  }
  // A head straight from the parser carries its byteLength: not a field of the frame.
  const { bodyLength: _, byteLength: _parsed, ...fields } = head as RequestHeadV3 & {
    byteLength?: number;
  };
  switch (fields.op) {
    case OpV3.Missing:
    case OpV3.DropBlobs: {
      const { count: _count, ...rest } = fields;
      return { ...rest, ids: splitIds(body) };
    }
    case OpV3.PutBlob: {
      const { refCount, storedLength: _stored, ...rest } = fields;
      const refsEnd = refCount * ID_SIZE;
      return { ...rest, refs: splitIds(body.subarray(0, refsEnd)), bytes: body.subarray(refsEnd) };
    }
    case OpV3.CommitSnapshot:
      return { ...fields, record: body };
    case OpV3.AddKey:
      return { ...fields, slot: body };
    default:
      return fields;
  }
}

/**
 * Encodes a request as its parts: the head with every small field (ids and refs included), then
 * the blob's bytes or the record as given (a view: no copy of a large body).
 *
 * @throws {RangeError} for a field out of range: a count or length past the limits, refs on a data
 *   blob, an id not of 32 bytes.
 */
export function encodeRequestV3Parts(request: RequestV3): Uint8Array[] {
  checkRange("user id", request.userId, 0xffff_ffff);
  checkRange("tag", request.tag, 0xffff_ffff);
  const head = (size: number) =>
    new FieldWriter(TAGGED_REQUEST_HEAD_SIZE + size).u32(request.userId).u8(PROTOCOL_VERSION_3)
      .u8(request.op).u32(request.tag);
  switch (request.op) {
    case OpV3.Missing:
    case OpV3.DropBlobs: {
      checkCount("ids", request.ids.length);
      checkIds("id", request.ids);
      const writer = head(4 + request.ids.length * ID_SIZE).u32(request.ids.length);
      for (const id of request.ids) writer.raw(id);
      return [writer.bytes];
    }
    case OpV3.PutBlob: {
      checkId("blob id", request.id);
      checkIds("ref", request.refs);
      const blob = { ...request, storedLength: request.bytes.length };
      const fault = blobHeadFault(blob) ??
        (request.kind === BlobKind.Data && request.refs.length > 0
          ? "refs on a data blob"
          : request.refs.length > Math.floor(request.rawLength / MIN_TREE_BYTES_PER_REF)
          ? `${request.refs.length} refs for a tree of ${request.rawLength} bytes`
          : undefined);
      if (fault) throw new RangeError(fault);
      const writer = head(ID_SIZE + BLOB_HEAD_SIZE + 4 + request.refs.length * ID_SIZE)
        .raw(request.id).u8(request.kind).u8(request.encoding).u32(request.rawLength)
        .u32(request.bytes.length).u32(request.refs.length);
      for (const ref of request.refs) writer.raw(ref);
      return [writer.bytes, request.bytes];
    }
    case OpV3.CommitSnapshot: {
      checkId("snapshot id", request.id);
      checkId("tree id", request.tree);
      const length = request.record.length;
      if (length < 1 || length > MAX_SNAPSHOT_RECORD_BYTES) {
        throw new RangeError(`record of ${length} bytes, must be 1..${MAX_SNAPSHOT_RECORD_BYTES}`);
      }
      const writer = head(ID_SIZE * 2 + 4).raw(request.id).raw(request.tree).u32(length);
      return [writer.bytes, request.record];
    }
    case OpV3.GetBlob:
    case OpV3.ForgetSnapshot:
      checkId("id", request.id);
      return [head(ID_SIZE).raw(request.id).bytes];
    case OpV3.AddKey: {
      const fault = keySlotLengthFault(request.slot.length);
      if (fault) throw new RangeError(fault);
      return [
        head(1 + 4).u8(request.first ? ADD_KEY_FIRST : 0).u32(request.slot.length).bytes,
        request.slot,
      ];
    }
    case OpV3.RemoveKey:
      checkKeySlotId(request.slotId);
      return [head(KEY_SLOT_ID_BYTES).raw(request.slotId).bytes];
    case OpV3.OpenSnapshot:
    case OpV3.ListSnapshots:
    case OpV3.ListKeys:
    case OpV3.Prune:
      return [head(0).bytes];
  }
}

/**
 * Encodes a whole request in one buffer (see `encodeRequestV3Parts` to send a blob uncopied).
 *
 * @example
 * ```ts
 * import { encodeRequestV3 } from "./requests.ts";
 * import assert from "node:assert/strict";
 * const frame = encodeRequestV3({ op: 22, userId: 77, tag: 7 });
 * assert.deepEqual(frame, new Uint8Array([77, 0, 0, 0, 3, 22, 7, 0, 0, 0]));
 * ```
 */
export function encodeRequestV3(request: RequestV3): Uint8Array {
  return joinParts(encodeRequestV3Parts(request));
}

/** The parts of a frame in one buffer. */
export function joinParts(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const frame = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    frame.set(part, at);
    at += part.length;
  }
  return frame;
}

function readId(reader: FieldReader): Uint8Array {
  return reader.bytes(ID_SIZE).slice();
}
