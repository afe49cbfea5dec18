/**
 * What an Auth signature covers, and OpenSSH public key lines. Pure: signing and verifying are
 * WebCrypto's job, done by the client and the server.
 *
 * @module
 */
import { ProtocolError } from "../errors.ts";
import { AUTH_CONTEXT, NONCE_SIZE, PUBLIC_KEY_SIZE } from "./constants.ts";
import { FieldWriter } from "./fields.ts";

/**
 * The bytes an Auth request signs: the context `backup-protocol-v2 auth\0`, the server's nonce, the
 * user id (4, little-endian) and the public key. The nonce makes each signature good for one
 * connection only; the context keeps it from meaning anything in another protocol.
 *
 * @example
 * ```ts
 * import { authMessage } from "./auth.ts";
 * import assert from "node:assert/strict";
 * assert.equal(authMessage(new Uint8Array(32), 7, new Uint8Array(32)).length, 24 + 32 + 4 + 32);
 * ```
 */
export function authMessage(nonce: Uint8Array, userId: number, publicKey: Uint8Array): Uint8Array {
  if (nonce.length !== NONCE_SIZE) throw new RangeError(`nonce of ${nonce.length} bytes`);
  if (publicKey.length !== PUBLIC_KEY_SIZE) throw new RangeError("public key size");
  return new FieldWriter(AUTH_CONTEXT.length + NONCE_SIZE + 4 + PUBLIC_KEY_SIZE)
    .raw(AUTH_CONTEXT).raw(nonce).u32(userId).raw(publicKey).bytes;
}

const KEY_TYPE = "ssh-ed25519";

/** An Ed25519 public key read from an OpenSSH line. */
export interface SshPublicKey {
  /** The raw 32-byte key. */
  key: Uint8Array;
  /** The comment after the key, often `user@host`; `""` if none. */
  comment: string;
}

/**
 * Parses an OpenSSH public key line, `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI... comment`, as found
 * in `authorized_keys` and `id_ed25519.pub`.
 *
 * @throws {ProtocolError} for another key type or a malformed line.
 * @example
 * ```ts
 * import { formatSshPublicKey, parseSshPublicKey } from "./auth.ts";
 * import assert from "node:assert/strict";
 * const line = formatSshPublicKey(new Uint8Array(32).fill(7), "alice@laptop");
 * assert.equal(parseSshPublicKey(line).comment, "alice@laptop");
 * ```
 */
export function parseSshPublicKey(line: string): SshPublicKey {
  const [type, base64, ...comment] = line.trim().split(/\s+/);
  if (type !== KEY_TYPE) {
    throw new ProtocolError(`only ${KEY_TYPE} keys are supported, got "${type?.slice(0, 40)}"`);
  }
  let blob: Uint8Array;
  try {
    blob = Uint8Array.from(atob(base64 ?? ""), (c) => c.charCodeAt(0));
  } catch {
    throw new ProtocolError("the key is not valid base64");
  }
  const view = new DataView(blob.buffer);
  const typeLength = blob.length >= 4 ? view.getUint32(0) : -1;
  const keyAt = 4 + typeLength;
  const typeInBlob = new TextDecoder().decode(blob.subarray(4, keyAt));
  if (
    typeInBlob !== KEY_TYPE || blob.length !== keyAt + 4 + PUBLIC_KEY_SIZE ||
    view.getUint32(keyAt) !== PUBLIC_KEY_SIZE
  ) {
    throw new ProtocolError("the key's bytes are not an ssh-ed25519 public key");
  }
  return { key: blob.slice(keyAt + 4), comment: comment.join(" ") };
}

/** Formats a raw Ed25519 public key as an OpenSSH line (see `parseSshPublicKey`). */
export function formatSshPublicKey(key: Uint8Array, comment = ""): string {
  if (key.length !== PUBLIC_KEY_SIZE) throw new RangeError("public key size");
  const type = new TextEncoder().encode(KEY_TYPE);
  const blob = new FieldWriter(4 + type.length + 4 + PUBLIC_KEY_SIZE);
  const view = new DataView(blob.bytes.buffer);
  view.setUint32(0, type.length);
  blob.bytes.set(type, 4);
  view.setUint32(4 + type.length, PUBLIC_KEY_SIZE);
  blob.bytes.set(key, 8 + type.length);
  const base64 = btoa(String.fromCharCode(...blob.bytes));
  return comment ? `${KEY_TYPE} ${base64} ${comment}` : `${KEY_TYPE} ${base64}`;
}
