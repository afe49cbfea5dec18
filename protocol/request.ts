import {
  FieldSize,
  isOp,
  MAX_NAME_BYTES,
  Op,
  PROTOCOL_VERSION,
  REQUEST_HEAD_SIZE,
} from "./constants.ts";
import { InvalidNameError, ProtocolError } from "./errors.ts";
import { encodeName, validateName } from "./names.ts";

/** A request header: everything before the payload. */
export interface RequestHeader {
  /** The user the request acts for. */
  userId: number;
  /** The client's protocol version (any value is accepted). */
  version: number;
  /** What to do. */
  op: Op;
  /** The file name; `""` for a list. */
  name: string;
  /** Payload bytes that follow the header; 0 unless the op is a backup. */
  payloadSize: number;
}

/** A header parsed from the front of a buffer, and how many bytes it took. */
export interface ParsedRequestHeader {
  /** The header. */
  header: RequestHeader;
  /** Bytes of the buffer the header used; the payload (if any) starts there. */
  byteLength: number;
}

/** Whether requests with this op carry a name. */
export function opHasName(op: Op): boolean {
  return op !== Op.List;
}

/**
 * Parses a request header from the start of `bytes`.
 *
 * Returns `undefined` while the header is incomplete, so a caller can read more and call again. Each
 * field is checked as soon as it has arrived: an unknown op or a name length out of range is refused
 * before the name is waited for.
 *
 * @throws {ProtocolError} for an unknown op.
 * @throws {InvalidNameError} for a name length out of range or a name the rules refuse.
 * @example
 * ```ts
 * import { parseRequestHeader } from "./request.ts";
 * import assert from "node:assert/strict";
 * const frame = new Uint8Array([1, 0, 0, 0, 1, 0xca]);
 * assert.deepEqual(parseRequestHeader(frame)?.header.op, 202);
 * ```
 */
export function parseRequestHeader(bytes: Uint8Array): ParsedRequestHeader | undefined {
  if (bytes.length < REQUEST_HEAD_SIZE) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const userId = view.getUint32(0, true);
  const version = bytes[FieldSize.userId];
  const op = bytes[FieldSize.userId + FieldSize.version];
  if (!isOp(op)) throw new ProtocolError(`unknown op ${op}`);
  if (!opHasName(op)) {
    return {
      header: { userId, version, op, name: "", payloadSize: 0 },
      byteLength: REQUEST_HEAD_SIZE,
    };
  }
  const nameStart = REQUEST_HEAD_SIZE + FieldSize.nameLength;
  if (bytes.length < nameStart) return undefined;
  const nameLength = view.getUint16(REQUEST_HEAD_SIZE, true);
  if (nameLength === 0 || nameLength > MAX_NAME_BYTES) {
    throw new InvalidNameError(`name length ${nameLength}, expected 1..${MAX_NAME_BYTES}`);
  }
  const nameEnd = nameStart + nameLength;
  const headerEnd = op === Op.Backup ? nameEnd + FieldSize.payloadSize : nameEnd;
  if (bytes.length < headerEnd) return undefined;
  const name = validateName(bytes.subarray(nameStart, nameEnd));
  const payloadSize = op === Op.Backup ? view.getUint32(nameEnd, true) : 0;
  return { header: { userId, version, op, name, payloadSize }, byteLength: headerEnd };
}

/** What a caller gives to encode a request header. */
export interface RequestHeaderInit {
  /** The user the request acts for. */
  userId: number;
  /** What to do. */
  op: Op;
  /** The file name; ignored for a list. */
  name?: string;
  /** Payload size; only for a backup. */
  payloadSize?: number;
  /** Protocol version to send; defaults to 1. */
  version?: number;
}

/**
 * Encodes a request header (the payload of a backup is sent after it, separately).
 *
 * @throws {InvalidNameError} if the name breaks the rules.
 * @throws {RangeError} if the user id or payload size does not fit 4 bytes.
 * @example
 * ```ts
 * import { encodeRequestHeader } from "./request.ts";
 * import { Op } from "./constants.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(encodeRequestHeader({ userId: 1, op: Op.List }), new Uint8Array([1, 0, 0, 0, 1, 202]));
 * ```
 */
export function encodeRequestHeader(init: RequestHeaderInit): Uint8Array {
  checkUint32("user id", init.userId);
  const hasName = opHasName(init.op);
  const nameBytes = hasName ? encodeName(init.name ?? "") : new Uint8Array();
  const isBackup = init.op === Op.Backup;
  const size = REQUEST_HEAD_SIZE + (hasName ? FieldSize.nameLength + nameBytes.length : 0) +
    (isBackup ? FieldSize.payloadSize : 0);
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, init.userId, true);
  bytes[FieldSize.userId] = init.version ?? PROTOCOL_VERSION;
  bytes[FieldSize.userId + FieldSize.version] = init.op;
  if (hasName) {
    view.setUint16(REQUEST_HEAD_SIZE, nameBytes.length, true);
    bytes.set(nameBytes, REQUEST_HEAD_SIZE + FieldSize.nameLength);
  }
  if (isBackup) {
    const payloadSize = init.payloadSize ?? 0;
    checkUint32("payload size", payloadSize);
    view.setUint32(size - FieldSize.payloadSize, payloadSize, true);
  }
  return bytes;
}

/** Throws a RangeError unless `value` fits an unsigned 32-bit field. */
export function checkUint32(what: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new RangeError(`${what} must be an integer in 0..4294967295, got ${value}`);
  }
}
