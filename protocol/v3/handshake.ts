/**
 * The version 3 handshake: version 2's Hello and Auth and their answers (220, 221, 1003), with
 * version byte 3, no tag, and an Auth signature bound to version 3 by its context string. A version 2
 * signature is never good for a version 3 session, nor the reverse.
 *
 * @module
 */
import { REQUEST_HEAD_SIZE, RESPONSE_HEAD_SIZE } from "../constants.ts";
import { ProtocolError } from "../errors.ts";
import {
  FLAG_APPEND_ONLY,
  MAX_REFUSAL_MESSAGE_BYTES,
  NONCE_SIZE,
  PUBLIC_KEY_SIZE,
  RefusalCode,
  SIGNATURE_SIZE,
} from "../v2/constants.ts";
import { checkRange, FieldWriter, parseWith } from "../v2/fields.ts";
import { AUTH_CONTEXT_V3, OpV3, PROTOCOL_VERSION_3, StatusV3 } from "./constants.ts";

/** Opens a version 3 session; the server answers with a nonce. */
export interface HelloRequestV3 {
  /** The operation. */
  op: typeof OpV3.Hello;
  /** The user the session acts for. */
  userId: number;
}

/** Authenticates `userId` with `publicKey` and its signature over `authMessageV3(...)`. */
export interface AuthRequestV3 {
  /** The operation. */
  op: typeof OpV3.Auth;
  /** The user the session acts for. */
  userId: number;
  /** Raw Ed25519 public key (32 bytes). */
  publicKey: Uint8Array;
  /** Ed25519 signature (64 bytes) of `authMessageV3(nonce, userId, publicKey)`. */
  signature: Uint8Array;
}

/** A request of the handshake. */
export type HandshakeRequestV3 = HelloRequestV3 | AuthRequestV3;

/** An answer of the handshake: a nonce, a welcome, or a refusal (then a close). */
export type HandshakeResponseV3 =
  | { status: typeof StatusV3.Challenge; nonce: Uint8Array }
  | { status: typeof StatusV3.Authenticated; appendOnly: boolean }
  | { status: typeof StatusV3.Refused; code: number; message: string };

const encoder = new TextEncoder();
const lenient = new TextDecoder();

/**
 * The bytes an Auth request signs: `backup-protocol-v3 auth\0`, the nonce, the user id (u32) and
 * the public key.
 *
 * @example
 * ```ts
 * import { authMessageV3 } from "./handshake.ts";
 * import assert from "node:assert/strict";
 * assert.equal(authMessageV3(new Uint8Array(32), 7, new Uint8Array(32)).length, 24 + 32 + 4 + 32);
 * ```
 */
export function authMessageV3(
  nonce: Uint8Array,
  userId: number,
  publicKey: Uint8Array,
): Uint8Array {
  if (nonce.length !== NONCE_SIZE) throw new RangeError(`nonce of ${nonce.length} bytes`);
  if (publicKey.length !== PUBLIC_KEY_SIZE) throw new RangeError("public key size");
  return new FieldWriter(AUTH_CONTEXT_V3.length + NONCE_SIZE + 4 + PUBLIC_KEY_SIZE)
    .raw(AUTH_CONTEXT_V3).raw(nonce).u32(userId).raw(publicKey).bytes;
}

/**
 * Whether `bytes` (at least the 6-byte head) start a version 3 session: version 3 and op Hello.
 * Version 1 has no op 1 and version 2's Hello has version byte 2, so neither opens one by accident.
 */
export function startsSessionV3(bytes: Uint8Array): boolean {
  return bytes.length >= REQUEST_HEAD_SIZE && bytes[4] === PROTOCOL_VERSION_3 &&
    bytes[5] === OpV3.Hello;
}

/**
 * Parses a Hello or an Auth; `undefined` while incomplete.
 *
 * @throws {ProtocolError} for another version or op.
 * @example
 * ```ts
 * import { parseHandshakeRequestV3 } from "./handshake.ts";
 * import assert from "node:assert/strict";
 * const parsed = parseHandshakeRequestV3(new Uint8Array([77, 0, 0, 0, 3, 1]));
 * assert.deepEqual(parsed, { op: 1, userId: 77, byteLength: 6 });
 * ```
 */
export function parseHandshakeRequestV3(
  bytes: Uint8Array,
): (HandshakeRequestV3 & { byteLength: number }) | undefined {
  return parseWith(bytes, (reader): HandshakeRequestV3 => {
    const userId = reader.u32();
    const version = reader.u8();
    const op = reader.u8();
    if (version !== PROTOCOL_VERSION_3) {
      throw new ProtocolError(`version ${version} request in a version 3 handshake`);
    }
    if (op === OpV3.Hello) return { op, userId };
    if (op !== OpV3.Auth) throw new ProtocolError(`op ${op} in a version 3 handshake`);
    const publicKey = reader.bytes(PUBLIC_KEY_SIZE).slice();
    return { op, userId, publicKey, signature: reader.bytes(SIGNATURE_SIZE).slice() };
  });
}

/** Encodes a Hello or an Auth. @throws {RangeError} for a field out of range. */
export function encodeHandshakeRequestV3(request: HandshakeRequestV3): Uint8Array {
  checkRange("user id", request.userId, 0xffff_ffff);
  if (request.op === OpV3.Hello) {
    return new FieldWriter(REQUEST_HEAD_SIZE).u32(request.userId).u8(PROTOCOL_VERSION_3)
      .u8(request.op).bytes;
  }
  if (request.publicKey.length !== PUBLIC_KEY_SIZE) throw new RangeError("public key size");
  if (request.signature.length !== SIGNATURE_SIZE) throw new RangeError("signature size");
  return new FieldWriter(REQUEST_HEAD_SIZE + PUBLIC_KEY_SIZE + SIGNATURE_SIZE)
    .u32(request.userId).u8(PROTOCOL_VERSION_3).u8(request.op)
    .raw(request.publicKey).raw(request.signature).bytes;
}

/**
 * Parses an answer of the handshake; `undefined` while incomplete. Version 1's general error
 * (`01 eb03`: a server that does not speak version 3, or one refusing before it reads anything)
 * reads as a refusal with code 0.
 *
 * @throws {ProtocolError} for another version or status.
 */
export function parseHandshakeResponseV3(
  bytes: Uint8Array,
): (HandshakeResponseV3 & { byteLength: number }) | undefined {
  return parseWith(bytes, (reader): HandshakeResponseV3 => {
    const version = reader.u8();
    const status = reader.u16();
    if (version === 1 && status === StatusV3.Refused) {
      return { status, code: RefusalCode.Unspecified, message: "" };
    }
    if (version !== PROTOCOL_VERSION_3) {
      throw new ProtocolError(`version ${version} answer (status ${status}) to a v3 handshake`);
    }
    switch (status) {
      case StatusV3.Challenge:
        return { status, nonce: reader.bytes(NONCE_SIZE).slice() };
      case StatusV3.Authenticated:
        return { status, appendOnly: (reader.u8() & FLAG_APPEND_ONLY) !== 0 };
      case StatusV3.Refused: {
        const code = reader.u16();
        const message = reader.lengthPrefixed(MAX_REFUSAL_MESSAGE_BYTES, "message");
        return { status, code, message: lenient.decode(message) };
      }
      default:
        throw new ProtocolError(`status ${status} in a version 3 handshake`);
    }
  });
}

/** Encodes an answer of the handshake. @throws {RangeError} for a nonce of the wrong size. */
export function encodeHandshakeResponseV3(response: HandshakeResponseV3): Uint8Array {
  const head = (size: number) =>
    new FieldWriter(RESPONSE_HEAD_SIZE + size).u8(PROTOCOL_VERSION_3).u16(response.status);
  switch (response.status) {
    case StatusV3.Challenge:
      if (response.nonce.length !== NONCE_SIZE) throw new RangeError("nonce size");
      return head(NONCE_SIZE).raw(response.nonce).bytes;
    case StatusV3.Authenticated:
      return head(1).u8(response.appendOnly ? FLAG_APPEND_ONLY : 0).bytes;
    case StatusV3.Refused: {
      const message = refusalMessage(response.message);
      return head(2 + 2 + message.length).u16(response.code).lengthPrefixed(message).bytes;
    }
  }
}

/** A refusal's message as UTF-8, cut at a character boundary to at most 1024 bytes. */
export function refusalMessage(message: string): Uint8Array {
  const bytes = encoder.encode(message);
  if (bytes.length <= MAX_REFUSAL_MESSAGE_BYTES) return bytes;
  let end = MAX_REFUSAL_MESSAGE_BYTES;
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}
