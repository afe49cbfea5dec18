import { FieldSize, isStatus, PROTOCOL_VERSION, RESPONSE_HEAD_SIZE, Status } from "./constants.ts";
import { ProtocolError } from "./errors.ts";

/** A response header: everything before the payload. */
export interface ResponseHeader {
  /** The server's protocol version. */
  version: number;
  /** The outcome. */
  status: Status;
  /** The file name (or the list's name); `""` when the status carries none. */
  name: string;
  /** Payload bytes that follow; 0 when the status carries none. */
  payloadSize: number;
}

/** Which optional fields follow a status. */
export interface StatusFields {
  /** name_len and filename follow. */
  name: boolean;
  /** size and payload follow. */
  payload: boolean;
}

const FIELDS_BY_STATUS: Record<Status, StatusFields> = {
  [Status.FileRestored]: { name: true, payload: true },
  [Status.ListSent]: { name: true, payload: true },
  [Status.Done]: { name: true, payload: false },
  [Status.FileNotFound]: { name: true, payload: false },
  [Status.NoFiles]: { name: false, payload: false },
  [Status.GeneralError]: { name: false, payload: false },
};

/** The optional fields a status carries, per the protocol's table. */
export function fieldsOf(status: Status): StatusFields {
  return FIELDS_BY_STATUS[status];
}

/** A header parsed from the front of a buffer, and how many bytes it took. */
export interface ParsedResponseHeader {
  /** The header. */
  header: ResponseHeader;
  /** Bytes of the buffer the header used; the payload (if any) starts there. */
  byteLength: number;
}

const lenientUtf8 = new TextDecoder();
const encoder = new TextEncoder();

/**
 * Parses a response header from the start of `bytes`; `undefined` while it is incomplete.
 *
 * The name is decoded leniently: clients must not rely on the list's name.
 *
 * @throws {ProtocolError} for an unknown status.
 * @example
 * ```ts
 * import { parseResponseHeader } from "./response.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseResponseHeader(new Uint8Array([1, 0xea, 0x03]))?.header.status, 1002);
 * ```
 */
export function parseResponseHeader(bytes: Uint8Array): ParsedResponseHeader | undefined {
  if (bytes.length < RESPONSE_HEAD_SIZE) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = bytes[0];
  const status = view.getUint16(FieldSize.version, true);
  if (!isStatus(status)) throw new ProtocolError(`unknown status ${status}`);
  const fields = fieldsOf(status);
  let offset = RESPONSE_HEAD_SIZE;
  let name = "";
  if (fields.name) {
    if (bytes.length < offset + FieldSize.nameLength) return undefined;
    const nameLength = view.getUint16(offset, true);
    offset += FieldSize.nameLength;
    if (bytes.length < offset + nameLength) return undefined;
    name = lenientUtf8.decode(bytes.subarray(offset, offset + nameLength));
    offset += nameLength;
  }
  let payloadSize = 0;
  if (fields.payload) {
    if (bytes.length < offset + FieldSize.payloadSize) return undefined;
    payloadSize = view.getUint32(offset, true);
    offset += FieldSize.payloadSize;
  }
  return { header: { version, status, name, payloadSize }, byteLength: offset };
}

/** What a caller gives to encode a response header. */
export interface ResponseHeaderInit {
  /** The outcome. */
  status: Status;
  /** The name, for statuses that carry one. */
  name?: string;
  /** The payload size, for statuses that carry one. */
  payloadSize?: number;
}

/**
 * Encodes a response header into `target` (from its start) and returns the bytes written, as a view of
 * `target`. Without a target a new array is made.
 *
 * @throws {RangeError} if the target is too small or the name longer than 65535 bytes.
 * @example
 * ```ts
 * import { encodeResponseHeader } from "./response.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(encodeResponseHeader({ status: 1002 }), new Uint8Array([1, 0xea, 0x03]));
 * ```
 */
export function encodeResponseHeader(
  init: ResponseHeaderInit,
  target?: Uint8Array,
): Uint8Array {
  const fields = fieldsOf(init.status);
  const nameBytes = fields.name ? encoder.encode(init.name ?? "") : undefined;
  if (nameBytes && nameBytes.length > 0xffff) {
    throw new RangeError(`name of ${nameBytes.length} bytes does not fit the length field`);
  }
  const size = RESPONSE_HEAD_SIZE +
    (nameBytes ? FieldSize.nameLength + nameBytes.length : 0) +
    (fields.payload ? FieldSize.payloadSize : 0);
  const bytes = target ? target.subarray(0, size) : new Uint8Array(size);
  if (bytes.length < size) {
    throw new RangeError(`target of ${target?.length} bytes cannot hold a ${size}-byte header`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, size);
  bytes[0] = PROTOCOL_VERSION;
  view.setUint16(FieldSize.version, init.status, true);
  let offset = RESPONSE_HEAD_SIZE;
  if (nameBytes) {
    view.setUint16(offset, nameBytes.length, true);
    bytes.set(nameBytes, offset + FieldSize.nameLength);
    offset += FieldSize.nameLength + nameBytes.length;
  }
  if (fields.payload) view.setUint32(offset, init.payloadSize ?? 0, true);
  return bytes;
}
