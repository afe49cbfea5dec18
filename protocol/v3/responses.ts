/**
 * Version 3 answers after the handshake: version 1's head (version 1 = 3, status 2), the tag of the
 * request answered, fixed fields (the head), then a body whose length the head declares (a bitmap,
 * ids, a blob's bytes, key slots). A 235 is followed by snapshot entries, each an entry head and its record,
 * and an end mark. Read as requests are: head, `bodyLength` bytes, `decodeResponseBodyV3`.
 *
 * @module
 */
import { ProtocolError } from "../errors.ts";
import { MAX_REFUSAL_MESSAGE_BYTES } from "../v2/constants.ts";
import { checkRange, FieldWriter, parseWith } from "../v2/fields.ts";
import { BLOB_HEAD_SIZE, type BlobHead, blobHeadFault, readBlobHead } from "./blob_head.ts";
import {
  ID_SIZE,
  MAX_SNAPSHOT_RECORD_BYTES,
  PROTOCOL_VERSION_3,
  StatusV3,
  TAGGED_RESPONSE_HEAD_SIZE,
} from "./constants.ts";
import { TaggedProtocolError } from "./errors.ts";
import { refusalMessage } from "./handshake.ts";
import { checkCount, checkId, checkIds, isZeroId, readCount, splitIds } from "./ids.ts";
import { checkKeySlots, readKeySlotLengths, splitKeySlots } from "./key_slots.ts";
import { joinParts } from "./requests.ts";

/** Any version 3 answer after the handshake (a 235's entries follow it as their own frames). */
export type ResponseV3 =
  | { status: typeof StatusV3.MissingIds; tag: number; missing: boolean[] }
  | { status: typeof StatusV3.Done; tag: number }
  | (
    & { status: typeof StatusV3.Blob; tag: number; bytes: Uint8Array }
    & Omit<BlobHead, "storedLength">
  )
  | { status: typeof StatusV3.Committed; tag: number }
  | { status: typeof StatusV3.Incomplete; tag: number; ids: Uint8Array[] }
  | { status: typeof StatusV3.Snapshots; tag: number }
  | { status: typeof StatusV3.KeySlots; tag: number; slots: Uint8Array[] }
  | { status: typeof StatusV3.Pruned; tag: number; bytesFreed: number; packsRemoved: number }
  | { status: typeof StatusV3.NotFound; tag: number; id: Uint8Array }
  | { status: typeof StatusV3.Refused; tag: number; code: number; message: string };

/** An answer's head: its fixed fields, and the length of the body that follows. */
export type ResponseHeadV3 =
  & (
    | { status: typeof StatusV3.MissingIds; tag: number; count: number }
    | ({ status: typeof StatusV3.Blob; tag: number } & BlobHead)
    | { status: typeof StatusV3.Incomplete; tag: number; count: number }
    | { status: typeof StatusV3.KeySlots; tag: number; lengths: number[] }
    | Exclude<
      ResponseV3,
      {
        status:
          | typeof StatusV3.MissingIds
          | typeof StatusV3.Blob
          | typeof StatusV3.Incomplete
          | typeof StatusV3.KeySlots;
      }
    >
  )
  & {
    /** Bytes of the body after the head: checked against the limits before it is returned. */
    bodyLength: number;
  };

/** One snapshot of a 235: its id, when the server stored it, and its record as the client sent it. */
export interface SnapshotEntry {
  /** The snapshot's id (SHA-256 of its record). */
  id: Uint8Array;
  /** When the server committed it, milliseconds since the epoch. */
  storedMs: number;
  /** The record (1..64 KiB). */
  record: Uint8Array;
}

/** Ends a 235's entries: an id of 32 zero bytes (never a SHA-256). */
export const END_OF_SNAPSHOTS: Uint8Array = new Uint8Array(ID_SIZE);

const lenient = new TextDecoder();

/**
 * Parses an answer's head; `undefined` while incomplete. Each field is checked as soon as it is in.
 *
 * @throws {TaggedProtocolError} for a version other than 3, an unknown status, a count or length
 *   out of range, an unknown blob kind or encoding, a bitmap with bits past its count.
 * @example
 * ```ts
 * import { parseResponseHeadV3 } from "./responses.ts";
 * import assert from "node:assert/strict";
 * const head = parseResponseHeadV3(new Uint8Array([3, 0xe7, 0, 7, 0, 0, 0]));
 * assert.deepEqual(head, { status: 231, tag: 7, bodyLength: 0, byteLength: 7 });
 * ```
 */
export function parseResponseHeadV3(
  bytes: Uint8Array,
): (ResponseHeadV3 & { byteLength: number }) | undefined {
  return parseWith(bytes, (reader): ResponseHeadV3 => {
    const version = reader.u8();
    const status = reader.u16();
    const tag = reader.u32();
    const fail = (message: string): never => {
      throw new TaggedProtocolError(message, tag);
    };
    if (version !== PROTOCOL_VERSION_3) {
      fail(`version ${version} answer (status ${status}) in a version 3 session`);
    }
    switch (status) {
      case StatusV3.MissingIds: {
        const count = readCount(reader, "ids", fail);
        return { status, tag, count, bodyLength: Math.ceil(count / 8) };
      }
      case StatusV3.Incomplete: {
        const count = readCount(reader, "missing ids", fail);
        return { status, tag, count, bodyLength: count * ID_SIZE };
      }
      case StatusV3.Blob: {
        const blob = readBlobHead(reader, fail);
        return { status, tag, ...blob, bodyLength: blob.storedLength };
      }
      case StatusV3.Done:
      case StatusV3.Committed:
      case StatusV3.Snapshots:
        return { status, tag, bodyLength: 0 };
      case StatusV3.KeySlots: {
        const lengths = readKeySlotLengths(reader, fail);
        return { status, tag, lengths, bodyLength: lengths.reduce((sum, n) => sum + n, 0) };
      }
      case StatusV3.Pruned: {
        const bytesFreed = reader.u64("bytes freed");
        const packsRemoved = reader.u32();
        return { status, tag, bytesFreed, packsRemoved, bodyLength: 0 };
      }
      case StatusV3.NotFound:
        return { status, tag, id: reader.bytes(ID_SIZE).slice(), bodyLength: 0 };
      case StatusV3.Refused: {
        const code = reader.u16();
        const message = reader.lengthPrefixed(MAX_REFUSAL_MESSAGE_BYTES, "message");
        return { status, tag, code, message: lenient.decode(message), bodyLength: 0 };
      }
      default:
        return fail(`unknown version 3 status ${status}`);
    }
  });
}

/**
 * Completes an answer with its body (`head.bodyLength` bytes); ids and bytes are views into it.
 *
 * @throws {TaggedProtocolError} for a bitmap with a bit set past its count.
 * @throws {RangeError} if `body` is not `head.bodyLength` bytes long (the caller's mistake).
 */
export function decodeResponseBodyV3(head: ResponseHeadV3, body: Uint8Array): ResponseV3 {
  if (body.length !== head.bodyLength) {
    throw new RangeError(`body of ${body.length} bytes, the head declares ${head.bodyLength}`);
  }
  // A head straight from the parser carries its byteLength: not a field of the frame.
  const { bodyLength: _, byteLength: _parsed, ...fields } = head as ResponseHeadV3 & {
    byteLength?: number;
  };
  switch (fields.status) {
    case StatusV3.MissingIds: {
      const missing = Array.from({ length: fields.count }, (_, i) => bitAt(body, i));
      // Bits past the count would be a second way to write one answer: refused.
      const used = fields.count % 8;
      if (used !== 0 && body[body.length - 1] >> used !== 0) {
        throw new TaggedProtocolError(`bitmap has bits past its ${fields.count} ids`, fields.tag);
      }
      return { status: fields.status, tag: fields.tag, missing };
    }
    case StatusV3.Incomplete:
      return { status: fields.status, tag: fields.tag, ids: splitIds(body) };
    case StatusV3.Blob: {
      const { storedLength: _stored, ...rest } = fields;
      return { ...rest, bytes: body };
    }
    case StatusV3.KeySlots:
      return { status: fields.status, tag: fields.tag, slots: splitKeySlots(body, fields.lengths) };
    default:
      return fields;
  }
}

/**
 * Encodes an answer as its parts: the head with every small field, then a blob's bytes as given.
 *
 * @throws {RangeError} for a field out of range.
 */
export function encodeResponseV3Parts(response: ResponseV3): Uint8Array[] {
  checkRange("tag", response.tag, 0xffff_ffff);
  const head = (size: number) =>
    new FieldWriter(TAGGED_RESPONSE_HEAD_SIZE + size).u8(PROTOCOL_VERSION_3).u16(response.status)
      .u32(response.tag);
  switch (response.status) {
    case StatusV3.MissingIds: {
      const count = response.missing.length;
      checkCount("ids", count);
      const writer = head(4 + Math.ceil(count / 8)).u32(count);
      for (let at = 0; at < count; at += 8) {
        let byte = 0;
        for (let bit = 0; bit < 8 && at + bit < count; bit++) {
          if (response.missing[at + bit]) byte |= 1 << bit;
        }
        writer.u8(byte);
      }
      return [writer.bytes];
    }
    case StatusV3.Incomplete: {
      checkCount("missing ids", response.ids.length);
      checkIds("id", response.ids);
      const writer = head(4 + response.ids.length * ID_SIZE).u32(response.ids.length);
      for (const id of response.ids) writer.raw(id);
      return [writer.bytes];
    }
    case StatusV3.Blob: {
      const fault = blobHeadFault({ ...response, storedLength: response.bytes.length });
      if (fault) throw new RangeError(fault);
      const writer = head(BLOB_HEAD_SIZE).u8(response.kind).u8(response.encoding)
        .u32(response.rawLength).u32(response.bytes.length);
      return [writer.bytes, response.bytes];
    }
    case StatusV3.Done:
    case StatusV3.Committed:
    case StatusV3.Snapshots:
      return [head(0).bytes];
    case StatusV3.KeySlots: {
      checkKeySlots(response.slots);
      const writer = head(4 + 4 * response.slots.length).u32(response.slots.length);
      for (const slot of response.slots) writer.u32(slot.length);
      return [writer.bytes, ...response.slots];
    }
    case StatusV3.Pruned:
      checkRange("bytes freed", response.bytesFreed, Number.MAX_SAFE_INTEGER);
      checkRange("packs removed", response.packsRemoved, 0xffff_ffff);
      return [head(8 + 4).u64(response.bytesFreed).u32(response.packsRemoved).bytes];
    case StatusV3.NotFound:
      checkId("id", response.id);
      return [head(ID_SIZE).raw(response.id).bytes];
    case StatusV3.Refused: {
      const message = refusalMessage(response.message);
      return [head(2 + 2 + message.length).u16(response.code).lengthPrefixed(message).bytes];
    }
  }
}

/**
 * Encodes a whole answer in one buffer (see `encodeResponseV3Parts` to send a blob uncopied).
 *
 * @example
 * ```ts
 * import { encodeResponseV3 } from "./responses.ts";
 * import assert from "node:assert/strict";
 * const frame = encodeResponseV3({ status: 230, tag: 7, missing: [false, true] });
 * assert.deepEqual(frame, new Uint8Array([3, 0xe6, 0, 7, 0, 0, 0, 2, 0, 0, 0, 0b10]));
 * ```
 */
export function encodeResponseV3(response: ResponseV3): Uint8Array {
  return joinParts(encodeResponseV3Parts(response));
}

/** A 235 entry's head: the snapshot's id and stored time, and its record's length (the body). */
export type SnapshotEntryHead = { id: Uint8Array; storedMs: number; bodyLength: number };

/**
 * Parses the head of the next entry of a 235: the entry's fields, or `null` at the end mark;
 * `undefined` while incomplete. The record (`bodyLength` bytes) follows an entry's head.
 *
 * @throws {ProtocolError} for a record length out of 1..64 KiB, a time out of a `Date`'s range.
 */
export function parseSnapshotEntryHead(
  bytes: Uint8Array,
): { entry: SnapshotEntryHead | null; byteLength: number } | undefined {
  return parseWith(bytes, (reader) => {
    const id = reader.bytes(ID_SIZE);
    if (isZeroId(id)) return { entry: null };
    const storedMs = reader.timeMs("stored time");
    const length = reader.u32();
    if (length < 1 || length > MAX_SNAPSHOT_RECORD_BYTES) {
      throw new ProtocolError(
        `snapshot record of ${length} bytes, must be 1..${MAX_SNAPSHOT_RECORD_BYTES}`,
      );
    }
    return { entry: { id: id.slice(), storedMs, bodyLength: length } };
  });
}

/**
 * Encodes one entry of a 235 as its parts: head, then the record as given. Entries come oldest
 * first (by stored time, then id); the answer ends with `END_OF_SNAPSHOTS`.
 *
 * @throws {RangeError} for an id of 32 zero bytes or not of 32 bytes, a record out of 1..64 KiB.
 */
export function encodeSnapshotEntryParts(entry: SnapshotEntry): Uint8Array[] {
  checkId("snapshot id", entry.id);
  if (isZeroId(entry.id)) throw new RangeError("a snapshot id of zeros is the end mark");
  const length = entry.record.length;
  if (length < 1 || length > MAX_SNAPSHOT_RECORD_BYTES) {
    throw new RangeError(`record of ${length} bytes, must be 1..${MAX_SNAPSHOT_RECORD_BYTES}`);
  }
  const head = new FieldWriter(ID_SIZE + 8 + 4).raw(entry.id).timeMs(entry.storedMs).u32(length);
  return [head.bytes, entry.record];
}

function bitAt(bitmap: Uint8Array, index: number): boolean {
  return (bitmap[index >> 3] & (1 << (index & 7))) !== 0;
}
