/**
 * The client's side of the version 3 handshake: Hello, the server's nonce, an Auth signed with the
 * user's Ed25519 key over the version 3 context string, and the server's welcome. A server without
 * version 3 answers the Hello as version 1 does (`ProtocolV3UnsupportedError`: use version 2).
 *
 * @module
 */
import { KeyObject, sign } from "node:crypto";
import { ProtocolError } from "../protocol/errors.ts";
import { OpV3, StatusV3 } from "../protocol/v3/constants.ts";
import {
  authMessageV3,
  encodeHandshakeRequestV3,
  type HandshakeResponseV3,
} from "../protocol/v3/handshake.ts";
import { RefusalCode } from "../protocol/v2/constants.ts";
import { ServerRefusedError } from "./client_errors.ts";
import { ProtocolV3UnsupportedError } from "./errors_v3.ts";
import type { ClientKey } from "./keys.ts";

/** How the handshake talks: send a frame, and read the next handshake answer. */
export interface HandshakeIo {
  /** Sends a frame (resolves once written). */
  send(frame: Uint8Array): Promise<void>;
  /** The next answer of the handshake. */
  next(): Promise<HandshakeResponseV3>;
}

/**
 * Signs in as `userId` with `key`; resolves whether the account is append-only.
 *
 * @throws {ProtocolV3UnsupportedError} if the server answered as version 1;
 *   {ServerRefusedError} if it refused the Hello or the key; {ProtocolError} for another answer.
 */
export async function signInV3(io: HandshakeIo, userId: number, key: ClientKey): Promise<boolean> {
  await io.send(encodeHandshakeRequestV3({ op: OpV3.Hello, userId }));
  const challenge = await io.next();
  if (challenge.status === StatusV3.Refused) {
    if (challenge.code === RefusalCode.Unspecified) throw new ProtocolV3UnsupportedError();
    throw new ServerRefusedError(challenge.code, challenge.message, "version 3 session");
  }
  if (challenge.status !== StatusV3.Challenge) {
    throw new ProtocolError(`expected status ${StatusV3.Challenge}, got ${challenge.status}`);
  }
  const message = authMessageV3(challenge.nonce, userId, key.publicKey);
  const signature = await signEd25519(key.privateKey, message);
  await io.send(
    encodeHandshakeRequestV3({ op: OpV3.Auth, userId, publicKey: key.publicKey, signature }),
  );
  const welcome = await io.next();
  if (welcome.status === StatusV3.Refused) {
    throw new ServerRefusedError(welcome.code, welcome.message, `key of user ${userId}`, true);
  }
  if (welcome.status !== StatusV3.Authenticated) {
    throw new ProtocolError(`expected status ${StatusV3.Authenticated}, got ${welcome.status}`);
  }
  return welcome.appendOnly;
}

/**
 * An Ed25519 signature of `message`: synchronous through `node:crypto` when the key can be had
 * there (as version 2's `authFrame`: `crypto.subtle.sign` waits long once a process made TLS
 * connections), else through Web Crypto.
 */
async function signEd25519(privateKey: CryptoKey, message: Uint8Array): Promise<Uint8Array> {
  let signer: KeyObject | undefined;
  try {
    signer = KeyObject.from(privateKey);
  } catch {
    // not extractable: Web Crypto signs it
  }
  if (signer) return new Uint8Array(sign(null, message, signer));
  return new Uint8Array(
    await crypto.subtle.sign("Ed25519", privateKey, message as Uint8Array<ArrayBuffer>),
  );
}
