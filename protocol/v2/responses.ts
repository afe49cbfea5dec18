/**
 * Version 2 responses: version 1's head (version 1 = 2, status 2) and fields by status. A version 1
 * general error (`01 eb03`, what a server sends before it knows the client's version, e.g. when it
 * has too many connections) is read as a refusal without a code.
 *
 * @module
 */
import { RESPONSE_HEAD_SIZE } from "../constants.ts";
import { ProtocolError } from "../errors.ts";
import {
  FLAG_APPEND_ONLY,
  FLAG_DELETED,
  MAX_REFUSAL_MESSAGE_BYTES,
  NONCE_SIZE,
  PROTOCOL_VERSION_2,
  RefusalCode,
  SHA256_SIZE,
  StatusV2,
  VERSION_INFO_SIZE,
} from "./constants.ts";
import { type FieldReader, FieldWriter, parseWith } from "./fields.ts";

/** What is known of one stored version of a file. */
export interface VersionInfo {
  /** The version's id (never 0); retrieve it with this id. */
  versionId: number;
  /** Size in bytes. */
  size: number;
  /** Modification time the client sent, milliseconds since the epoch. */
  mtimeMs: number;
  /** Permission bits the client sent, or `null`. */
  mode: number | null;
  /** When the server stored it. */
  storedMs: number;
  /** When it stopped being current (replaced or deleted), or `null` while it is current. */
  endedMs: number | null;
  /** True when it ended because the file was deleted. */
  deleted: boolean;
  /** SHA-256 of its bytes. */
  sha256: Uint8Array;
}

/** A name and one version of it: an element of a list or a versions answer. */
export interface Entry {
  /** The file name (validated by the client before use). */
  name: string;
  /** The version it names. */
  info: VersionInfo;
}

/** Any version 2 response header (payloads and entries follow some of them). */
export type ResponseV2 =
  | { status: typeof StatusV2.Challenge; nonce: Uint8Array }
  | { status: typeof StatusV2.Authenticated; appendOnly: boolean }
  | { status: typeof StatusV2.FileRestored; name: string; info: VersionInfo }
  | { status: typeof StatusV2.EntriesSent }
  | { status: typeof StatusV2.Done; name: string }
  | { status: typeof StatusV2.FileNotFound; name: string }
  | { status: typeof StatusV2.Refused; code: number; message: string };

const encoder = new TextEncoder();
const lenient = new TextDecoder();

/**
 * Encodes a version 2 response header.
 *
 * @example
 * ```ts
 * import { encodeResponseV2 } from "./responses.ts";
 * import assert from "node:assert/strict";
 * const frame = encodeResponseV2({ status: 212, name: "a" });
 * assert.deepEqual(frame, new Uint8Array([2, 0xd4, 0, 1, 0, 0x61]));
 * ```
 */
export function encodeResponseV2(response: ResponseV2): Uint8Array {
  const head = (size: number) =>
    new FieldWriter(RESPONSE_HEAD_SIZE + size).u8(PROTOCOL_VERSION_2).u16(response.status);
  switch (response.status) {
    case StatusV2.Challenge:
      if (response.nonce.length !== NONCE_SIZE) throw new RangeError("nonce size");
      return head(NONCE_SIZE).raw(response.nonce).bytes;
    case StatusV2.Authenticated:
      return head(1).u8(response.appendOnly ? FLAG_APPEND_ONLY : 0).bytes;
    case StatusV2.FileRestored: {
      const name = encoder.encode(response.name);
      return writeInfo(
        head(2 + name.length + VERSION_INFO_SIZE).lengthPrefixed(name),
        response.info,
      )
        .bytes;
    }
    case StatusV2.EntriesSent:
      return head(0).bytes;
    case StatusV2.Done:
    case StatusV2.FileNotFound: {
      const name = encoder.encode(response.name);
      return head(2 + name.length).lengthPrefixed(name).bytes;
    }
    case StatusV2.Refused: {
      const message = truncateUtf8(encoder.encode(response.message), MAX_REFUSAL_MESSAGE_BYTES);
      return head(2 + 2 + message.length).u16(response.code).lengthPrefixed(message).bytes;
    }
  }
}

/**
 * Parses a version 2 response header; `undefined` while incomplete.
 *
 * @throws {ProtocolError} for an unknown version or status, or a field out of range.
 * @example
 * ```ts
 * import { parseResponseV2 } from "./responses.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseResponseV2(new Uint8Array([1, 0xeb, 0x03])), {
 *   status: 1003, code: 0, message: "", byteLength: 3,
 * });
 * ```
 */
export function parseResponseV2(
  bytes: Uint8Array,
): (ResponseV2 & { byteLength: number }) | undefined {
  return parseWith(bytes, (reader): ResponseV2 => {
    const version = reader.u8();
    const status = reader.u16();
    if (version === 1 && status === StatusV2.Refused) {
      return { status, code: RefusalCode.Unspecified, message: "" };
    }
    if (version !== PROTOCOL_VERSION_2) {
      throw new ProtocolError(
        `version ${version} response (status ${status}) in a version 2 session`,
      );
    }
    switch (status) {
      case StatusV2.Challenge:
        return { status, nonce: reader.bytes(NONCE_SIZE).slice() };
      case StatusV2.Authenticated:
        return { status, appendOnly: (reader.u8() & FLAG_APPEND_ONLY) !== 0 };
      case StatusV2.FileRestored: {
        const name = lenient.decode(reader.lengthPrefixed());
        return { status, name, info: readInfo(reader) };
      }
      case StatusV2.EntriesSent:
        return { status };
      case StatusV2.Done:
      case StatusV2.FileNotFound:
        return { status, name: lenient.decode(reader.lengthPrefixed()) };
      case StatusV2.Refused: {
        const code = reader.u16();
        const message = lenient.decode(
          reader.lengthPrefixed(MAX_REFUSAL_MESSAGE_BYTES, "message"),
        );
        return { status, code, message };
      }
      default:
        throw new ProtocolError(`unknown version 2 status ${status}`);
    }
  });
}

/**
 * Encodes one entry of a list or versions answer: name length 2, name, version information.
 * The answer ends with `END_OF_ENTRIES` (a zero name length).
 */
export function encodeEntry(entry: { name: Uint8Array; info: VersionInfo }): Uint8Array {
  const writer = new FieldWriter(2 + entry.name.length + VERSION_INFO_SIZE);
  return writeInfo(writer.lengthPrefixed(entry.name), entry.info).bytes;
}

/** Ends the entries of an answer: a name length of 0 (names are never empty). */
export const END_OF_ENTRIES: Uint8Array = new Uint8Array(2);

/**
 * Parses the next entry of a list or versions answer: the entry, or `null` at the end mark;
 * `undefined` while incomplete. Names are returned as sent: a client must validate them.
 */
export function parseEntry(
  bytes: Uint8Array,
): { entry: { name: Uint8Array; info: VersionInfo } | null; byteLength: number } | undefined {
  return parseWith(bytes, (reader) => {
    const name = reader.lengthPrefixed();
    if (name.length === 0) return { entry: null };
    return { entry: { name: name.slice(), info: readInfo(reader) } };
  });
}

function writeInfo(writer: FieldWriter, info: VersionInfo): FieldWriter {
  if (info.sha256.length !== SHA256_SIZE) throw new RangeError("sha256 size");
  return writer.u64(info.versionId).u64(info.size).timeMs(info.mtimeMs).mode(info.mode)
    .timeMs(info.storedMs).timeMs(info.endedMs ?? 0).u8(info.deleted ? FLAG_DELETED : 0)
    .raw(info.sha256);
}

function readInfo(reader: FieldReader): VersionInfo {
  const versionId = reader.u64("version id");
  const size = reader.u64("size");
  const mtimeMs = reader.timeMs("mtime");
  const mode = reader.mode();
  const storedMs = reader.timeMs("stored time");
  const ended = reader.timeMs("end time");
  const deleted = (reader.u8() & FLAG_DELETED) !== 0;
  const sha256 = reader.bytes(SHA256_SIZE).slice();
  return {
    versionId,
    size,
    mtimeMs,
    mode,
    storedMs,
    endedMs: ended === 0 ? null : ended,
    deleted,
    sha256,
  };
}

/** Cuts UTF-8 at a character boundary at most `max` bytes in. */
function truncateUtf8(bytes: Uint8Array, max: number): Uint8Array {
  if (bytes.length <= max) return bytes;
  let end = max;
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}
