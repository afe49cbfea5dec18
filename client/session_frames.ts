/**
 * The parts of a version 2 session that are frames, not requests: the signed Auth frame, and
 * reading a stream of entries without trusting it.
 *
 * @module
 */
import { KeyObject, sign } from "node:crypto";
import { ProtocolError } from "../protocol/errors.ts";
import { compareBytes } from "../protocol/list.ts";
import { validateName } from "../protocol/names.ts";
import { authMessage } from "../protocol/v2/auth.ts";
import { OpV2 } from "../protocol/v2/constants.ts";
import { encodeRequestV2 } from "../protocol/v2/requests.ts";
import { type Entry, parseEntry } from "../protocol/v2/responses.ts";
import type { ClientWire } from "./client_wire.ts";
import type { ClientKey } from "./keys.ts";

/** The Auth frame for `userId`: `key`'s signature over the server's `nonce` (see `authMessage`). */
export async function authFrame(
  userId: number,
  key: ClientKey,
  nonce: Uint8Array,
): Promise<Uint8Array> {
  const message = new Uint8Array(authMessage(nonce, userId, key.publicKey));
  const signer = signerOf(key.privateKey);
  const signature = signer
    ? new Uint8Array(sign(null, message, signer))
    : new Uint8Array(await crypto.subtle.sign("Ed25519", key.privateKey, message));
  return encodeRequestV2({ op: OpV2.Auth, userId, publicKey: key.publicKey, signature });
}

const signers = new WeakMap<CryptoKey, KeyObject | null>();

/**
 * The key as `node:crypto` signs with it, or null if it cannot be had (a key that is not
 * extractable). Once a process has made TLS connections, each `crypto.subtle.sign` waits far
 * longer than its work takes, one at a time, which bounded the rate of new sessions; the
 * synchronous signature does not wait (figures: docs/performance.md, eighth round).
 */
function signerOf(privateKey: CryptoKey): KeyObject | null {
  let signer = signers.get(privateKey);
  if (signer === undefined) {
    try {
      signer = KeyObject.from(privateKey);
    } catch {
      signer = null;
    }
    signers.set(privateKey, signer);
  }
  return signer;
}

/**
 * Reads entries up to the end mark. Every name is validated as the server validates names; with
 * `ordered`, names must come in strictly increasing byte order; `check` refuses names the request
 * did not ask for.
 *
 * @throws {ProtocolError} for an invalid, unordered or unasked-for name.
 */
export async function* readEntries(
  wire: ClientWire,
  check: (name: string) => void,
  ordered: boolean,
): AsyncGenerator<Entry> {
  let previous: Uint8Array | undefined;
  for (;;) {
    const { entry } = await wire.readFrame(parseEntry, "list entry");
    if (!entry) return;
    let name: string;
    try {
      name = validateName(entry.name);
    } catch (error) {
      throw new ProtocolError(`the server listed an invalid name: ${(error as Error).message}`);
    }
    if (ordered && previous && compareBytes(previous, entry.name) >= 0) {
      throw new ProtocolError(`the server listed ${name} out of order`);
    }
    previous = entry.name;
    check(name);
    yield { name, info: entry.info };
  }
}
