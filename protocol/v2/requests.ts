/**
 * Version 2 requests: every one starts with version 1's head (user id 4, version 1 = 2, op 1); the
 * fields after it depend on the op. See docs/protocol.md for the tables and vectors.
 *
 * @module
 */
import { REQUEST_HEAD_SIZE } from "../constants.ts";
import { ProtocolError } from "../errors.ts";
import { encodeName, validateName } from "../names.ts";
import {
  NONCE_SIZE,
  OpV2,
  PROTOCOL_VERSION_2,
  PUBLIC_KEY_SIZE,
  SHA256_SIZE,
  SIGNATURE_SIZE,
} from "./constants.ts";
import { checkRange, type FieldReader, FieldWriter, parseWith } from "./fields.ts";

/** Opens a session; the server answers with a nonce. */
export interface HelloRequest {
  /** The operation. */
  op: typeof OpV2.Hello;
  /** The user the request acts for (the authenticated one). */
  userId: number;
}

/** Authenticates `userId` with the key `publicKey` and its signature over `authMessage(...)`. */
export interface AuthRequest {
  /** The operation. */
  op: typeof OpV2.Auth;
  /** The user the request acts for (the authenticated one). */
  userId: number;
  /** Raw Ed25519 public key (32 bytes). */
  publicKey: Uint8Array;
  /** Ed25519 signature (64 bytes) of `authMessage(nonce, userId, publicKey)`. */
  signature: Uint8Array;
}

/** Stores `size` bytes under `name`; the payload and then its SHA-256 (32 bytes) follow. */
export interface BackupRequest {
  /** The operation. */
  op: typeof OpV2.Backup;
  /** The user the request acts for (the authenticated one). */
  userId: number;
  /** The file name. */
  name: string;
  /** Payload bytes that follow the header. */
  size: number;
  /** Modification time, milliseconds since the epoch. */
  mtimeMs: number;
  /** Permission bits (at most 0o7777), or `null` if unknown. */
  mode: number | null;
}

/** Fetches a version of `name`: `versionId` 0 for the current one. */
export interface RetrieveRequest {
  /** The operation. */
  op: typeof OpV2.Retrieve;
  /** The user the request acts for (the authenticated one). */
  userId: number;
  /** The file name. */
  name: string;
  /** The version to fetch; 0 for the current one. */
  versionId: number;
}

/** Deletes `name`. */
export interface DeleteRequest {
  /** The operation. */
  op: typeof OpV2.Delete;
  /** The user the request acts for (the authenticated one). */
  userId: number;
  /** The file name. */
  name: string;
}

/** Lists the files whose names start with `prefix`, as of `atMs` (0: now). */
export interface ListRequest {
  /** The operation. */
  op: typeof OpV2.List;
  /** The user the request acts for (the authenticated one). */
  userId: number;
  /** A name prefix in bytes terms (`""`: every file); need not end at a `/`. */
  prefix: string;
  /** The moment to list, milliseconds since the epoch; 0 for now. */
  atMs: number;
}

/** Lists the versions of `name`, oldest first. */
export interface VersionsRequest {
  /** The operation. */
  op: typeof OpV2.Versions;
  /** The user the request acts for (the authenticated one). */
  userId: number;
  /** The file name. */
  name: string;
}

/** Any version 2 request header. */
export type RequestV2 =
  | HelloRequest
  | AuthRequest
  | BackupRequest
  | RetrieveRequest
  | DeleteRequest
  | ListRequest
  | VersionsRequest;

/** Bytes of a Hello request: the head alone. */
export const HELLO_SIZE: number = REQUEST_HEAD_SIZE;
/** Bytes of an Auth request. */
export const AUTH_SIZE: number = REQUEST_HEAD_SIZE + PUBLIC_KEY_SIZE + SIGNATURE_SIZE;
/** Bytes of the trailer that follows a backup's payload: its SHA-256. */
export const DIGEST_TRAILER_SIZE: number = SHA256_SIZE;
/** Bytes of a Challenge's nonce, re-exported for readers of this module. */
export { NONCE_SIZE };

const decoder = new TextDecoder();

/** Whether `bytes` (at least the 6-byte head) start a version 2 session: version 2 and op Hello. */
export function startsSessionV2(bytes: Uint8Array): boolean {
  return bytes.length >= REQUEST_HEAD_SIZE && bytes[4] === PROTOCOL_VERSION_2 &&
    bytes[5] === OpV2.Hello;
}

/**
 * Parses a version 2 request header from the start of `bytes`; `undefined` while incomplete.
 *
 * @throws {ProtocolError} for a version other than 2, an unknown op or a field out of range.
 * @throws {InvalidNameError} for a name the rules refuse.
 * @example
 * ```ts
 * import { parseRequestV2 } from "./requests.ts";
 * import assert from "node:assert/strict";
 * const parsed = parseRequestV2(new Uint8Array([77, 0, 0, 0, 2, 1]));
 * assert.deepEqual(parsed, { op: 1, userId: 77, byteLength: 6 });
 * ```
 */
export function parseRequestV2(
  bytes: Uint8Array,
): (RequestV2 & { byteLength: number }) | undefined {
  return parseWith(bytes, (reader): RequestV2 => {
    const userId = reader.u32();
    const version = reader.u8();
    const op = reader.u8();
    if (version !== PROTOCOL_VERSION_2) {
      throw new ProtocolError(`version ${version} request in a version 2 session`);
    }
    switch (op) {
      case OpV2.Hello:
        return { op, userId };
      case OpV2.Auth:
        return {
          op,
          userId,
          publicKey: reader.bytes(PUBLIC_KEY_SIZE).slice(),
          signature: reader.bytes(SIGNATURE_SIZE).slice(),
        };
      case OpV2.Backup: {
        const name = readName(reader);
        return {
          op,
          userId,
          name,
          size: reader.u64("size"),
          mtimeMs: reader.timeMs("mtime"),
          mode: reader.mode(),
        };
      }
      case OpV2.Retrieve: {
        const name = readName(reader);
        return { op, userId, name, versionId: reader.u64("version id") };
      }
      case OpV2.Delete:
      case OpV2.Versions:
        return { op, userId, name: readName(reader) };
      case OpV2.List: {
        const prefix = reader.lengthPrefixed(undefined, "prefix");
        const text = prefix.length === 0 ? "" : decodePrefix(prefix);
        return { op, userId, prefix: text, atMs: reader.timeMs("time") };
      }
      default:
        throw new ProtocolError(`unknown version 2 op ${op}`);
    }
  });
}

/**
 * Encodes a version 2 request header (a backup's payload and digest are sent after it).
 *
 * @throws {InvalidNameError} for a name the rules refuse; {RangeError} for a field out of range.
 * @example
 * ```ts
 * import { encodeRequestV2 } from "./requests.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(encodeRequestV2({ op: 1, userId: 77 }), new Uint8Array([77, 0, 0, 0, 2, 1]));
 * ```
 */
export function encodeRequestV2(request: RequestV2): Uint8Array {
  checkRange("user id", request.userId, 0xffff_ffff);
  const head = (size: number) =>
    new FieldWriter(REQUEST_HEAD_SIZE + size).u32(request.userId).u8(PROTOCOL_VERSION_2).u8(
      request.op,
    );
  switch (request.op) {
    case OpV2.Hello:
      return head(0).bytes;
    case OpV2.Auth:
      if (request.publicKey.length !== PUBLIC_KEY_SIZE) throw new RangeError("public key size");
      if (request.signature.length !== SIGNATURE_SIZE) throw new RangeError("signature size");
      return head(PUBLIC_KEY_SIZE + SIGNATURE_SIZE).raw(request.publicKey).raw(request.signature)
        .bytes;
    case OpV2.Backup: {
      checkRange("size", request.size, Number.MAX_SAFE_INTEGER);
      const name = encodeName(request.name);
      return head(2 + name.length + 8 + 8 + 4).lengthPrefixed(name).u64(request.size)
        .timeMs(request.mtimeMs).mode(request.mode).bytes;
    }
    case OpV2.Retrieve: {
      checkRange("version id", request.versionId, Number.MAX_SAFE_INTEGER);
      const name = encodeName(request.name);
      return head(2 + name.length + 8).lengthPrefixed(name).u64(request.versionId).bytes;
    }
    case OpV2.Delete:
    case OpV2.Versions: {
      const name = encodeName(request.name);
      return head(2 + name.length).lengthPrefixed(name).bytes;
    }
    case OpV2.List: {
      const prefix = new TextEncoder().encode(request.prefix);
      if (prefix.length > 1024) throw new RangeError("prefix longer than 1024 bytes");
      return head(2 + prefix.length + 8).lengthPrefixed(prefix).timeMs(request.atMs).bytes;
    }
  }
}

function readName(reader: FieldReader): string {
  const bytes = reader.lengthPrefixed();
  return validateName(bytes);
}

/** A prefix is any valid UTF-8 without control bytes; it need not be a whole name. */
function decodePrefix(bytes: Uint8Array): string {
  for (const byte of bytes) {
    if (byte < 0x20 || byte === 0x7f) throw new ProtocolError("prefix holds a control byte");
  }
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new ProtocolError(`prefix is not UTF-8: ${decoder.decode(bytes)}`);
  }
}
