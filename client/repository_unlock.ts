/**
 * Which codec a session's repository needs (docs/keys_plan.md §1-2): none of its key slots means a
 * plain repository; slots mean an encrypted one, opened with a passphrase or a key file. The
 * server cannot downgrade a client silently: told "no slots" while a secret was given, the client
 * refuses rather than store plaintext where its user expects ciphertext.
 *
 * @example
 * ```ts
 * import { unlockRepository } from "./repository_unlock.ts";
 * import { makeSlot, newMasterKey } from "./repository_keys/key_slot.ts";
 * import assert from "node:assert/strict";
 * const secret = { keyFile: new Uint8Array(32).fill(7) };
 * const slot = await makeSlot(newMasterKey(), secret, { createdMs: 0, host: "h", user: "u" });
 * const unlocked = await unlockRepository([slot], () => Promise.resolve(secret));
 * assert.equal(unlocked.codec.encrypted, true);
 * assert.equal((await unlockRepository([], () => Promise.resolve(undefined))).codec.encrypted, false);
 * ```
 *
 * @module
 */
import { BackupError } from "../common/backup_error.ts";
import { type BlobCodec, PLAIN_CODEC } from "./blob_wire_v3.ts";
import type { RepositoryKey } from "./repository_keys/blob_seal.ts";
import { KeySlotFormatError, WrongKeyError } from "./repository_keys/errors.ts";
import { openSlot, readSlotInfo, type SlotSecret } from "./repository_keys/key_slot.ts";
import { SealedCodec } from "./sealed_codec_v3.ts";

/** An encrypted repository and no secret to open it, or a secret for a plain one. */
export class RepositoryLockedError extends BackupError {}

/** What opened the repository. */
export interface Unlocked {
  /** How its blobs and records are named, sent and checked. */
  codec: BlobCodec;
  /** The master key (encrypted repositories). */
  key?: RepositoryKey;
  /** The slot that opened it (encrypted repositories). */
  slotId?: Uint8Array;
}

/**
 * The codec for a repository whose key slots are `slots`; `secret` is asked for only when there
 * are slots, or when it is given anyway (`given`) to refuse a downgrade.
 *
 * @param slots the key slots the server listed
 * @param secret resolves the passphrase or key file, or undefined if none was given
 * @param expected why the repository must be encrypted whatever the server says: a secret was
 *   configured (`given`: flags, environment, profile), or this client opened it encrypted
 *   before (`remembered`); a plain repository is then refused
 * @throws {RepositoryLockedError} for an encrypted repository without a secret, or a plain one
 *   expected encrypted; {WrongKeyError} if no slot opens with the secret (slots this client cannot
 *   read, or that ask for more work than allowed, are passed over).
 */
export async function unlockRepository(
  slots: Uint8Array[],
  secret: () => Promise<SlotSecret | undefined>,
  expected: { given?: boolean; remembered?: boolean } = {},
): Promise<Unlocked> {
  if (slots.length === 0) {
    if (expected.remembered) {
      throw new RepositoryLockedError(
        "the server says this account's repository is not encrypted, but this client opened " +
          "it encrypted before: nothing is sent in clear. If the account really was started " +
          "again, remove its entry from snapshots-seen.json in the config folder",
      );
    }
    if (expected.given) {
      throw new RepositoryLockedError(
        "the server says this account's repository is not encrypted, but a passphrase or key " +
          "file was given: run init to encrypt it (before its first snapshot), or give no " +
          "secret for a plain repository",
      );
    }
    return { codec: PLAIN_CODEC };
  }
  const chosen = await secret();
  if (chosen === undefined) {
    throw new RepositoryLockedError(
      "this account's repository is encrypted: give its passphrase ($BACKUP_PASSWORD, " +
        "--password-file FILE) or its key file (--repository-key-file FILE)",
    );
  }
  const kind = "passphrase" in chosen ? "passphrase" : "key-file";
  // One at a time: a passphrase slot costs a key derivation each (at most 16 slots).
  for (const slot of slots) {
    let info;
    try {
      info = readSlotInfo(slot);
    } catch {
      continue; // a slot this client cannot read is not the one the secret opens
    }
    if (info.kind !== kind) continue;
    try {
      const key = await openSlot(slot, chosen);
      return { codec: new SealedCodec(key), key, slotId: info.slotId };
    } catch (error) {
      // A slot asking for more work than allowed is skipped as one the secret does not open.
      if (!(error instanceof WrongKeyError || error instanceof KeySlotFormatError)) throw error;
    }
  }
  throw new WrongKeyError();
}
