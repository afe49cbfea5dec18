/**
 * Parsing of version 3 requests: `parseRequestHeadV3` reads a head (its buffer needs
 * `MAX_REQUEST_HEAD_SIZE_V3` bytes) and checks each field as soon as it is in, so that the body
 * length it returns is bounded before anyone allocates; `decodeRequestBodyV3` completes the
 * request with its body. See docs/protocol.md.
 *
 * @module
 */
import { type FieldReader, parseWith } from "../v2/fields.ts";
import { readBlobHead } from "./blob_head.ts";
import {
  BlobKind,
  ID_SIZE,
  MAX_SNAPSHOT_RECORD_BYTES,
  MIN_TREE_BYTES_PER_REF,
  OpV3,
  PROTOCOL_VERSION_3,
} from "./constants.ts";
import { TaggedProtocolError } from "./errors.ts";
import { readCount, splitIds } from "./ids.ts";
import { KEY_SLOT_ID_BYTES, readKeySlotLength } from "./key_slots.ts";
import { ADD_KEY_FIRST, type RequestHeadV3, type RequestV3 } from "./request_types.ts";

/**
 * Parses a request's head from the start of `bytes`; `undefined` while incomplete. Each field is
 * checked as soon as it is in, so `bodyLength` is bounded by the limits (at most
 * `MAX_BODY_SIZE_V3`) before anyone allocates for it.
 *
 * @throws {TaggedProtocolError} for a version other than 3, an unknown op, a count or length out of
 *   range, an unknown blob kind or encoding, refs on a data blob.
 * @example
 * ```ts
 * import { parseRequestHeadV3 } from "./request_decode.ts";
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

function readId(reader: FieldReader): Uint8Array {
  return reader.bytes(ID_SIZE).slice();
}
