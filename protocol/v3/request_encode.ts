/**
 * Encoding of version 3 requests: every field checked against the limits the server applies, the
 * head with every small field, then a large body (a blob's bytes, a record, a slot) as given.
 *
 * @module
 */
import { checkRange, FieldWriter } from "../v2/fields.ts";
import { BLOB_HEAD_SIZE, blobHeadFault } from "./blob_head.ts";
import {
  BlobKind,
  ID_SIZE,
  MAX_SNAPSHOT_RECORD_BYTES,
  MIN_TREE_BYTES_PER_REF,
  OpV3,
  PROTOCOL_VERSION_3,
  TAGGED_REQUEST_HEAD_SIZE,
} from "./constants.ts";
import { checkCount, checkId, checkIds } from "./ids.ts";
import { checkKeySlotId, KEY_SLOT_ID_BYTES, keySlotLengthFault } from "./key_slots.ts";
import { ADD_KEY_FIRST, type RequestV3 } from "./request_types.ts";

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
 * import { encodeRequestV3 } from "./request_encode.ts";
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
