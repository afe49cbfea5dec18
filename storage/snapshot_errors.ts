/**
 * The errors of the snapshot repository (`snapshots.ts`, which re-exports them): each says what
 * was refused and carries what a caller needs (an id, a user); `server/error_status.ts` turns each
 * into the protocol's status.
 *
 * @module
 */
import { BackupError } from "../common/backup_error.ts";
import { toHex } from "../common/hex.ts";
import { LimitExceededError } from "./errors.ts";

/** A prune refused because another server runs garbage collection on the bucket now. */
export class PruneBusyError extends BackupError {}

/** A call on an upload session that has been closed (its connection ended). */
export class SessionClosedError extends BackupError {
  /** Builds the error. */
  constructor() {
    super("the snapshot session is closed");
  }
}

/** No blob of that id for this user (the protocol's 1001). */
export class NoSuchBlobError extends BackupError {
  /**
   * Builds the error.
   * @param id the blob asked for
   */
  constructor(readonly id: Uint8Array) {
    super(`no such blob: ${toHex(id)}`);
  }
}

/** No snapshot of that id for this user (the protocol's 1001). */
export class NoSuchSnapshotError extends BackupError {
  /**
   * Builds the error.
   * @param id the snapshot asked for
   */
  constructor(readonly id: Uint8Array) {
    super(`no such snapshot: ${toHex(id)}`);
  }
}

/** Bytes that do not hash to the id they were sent with (a blob, a snapshot record): not stored. */
export class BlobMismatchError extends BackupError {
  /**
   * Builds the error.
   * @param what which blob or record
   * @param reason what was found instead
   */
  constructor(what: string, reason: string) {
    super(`${what}: ${reason}; nothing stored`);
  }
}

/** A key slot too short or too long, or one past `MAX_KEY_SLOTS`: nothing stored. */
export class KeySlotLimitError extends LimitExceededError {}

/** A key slot whose id the user has already, with other bytes: the stored one stays. */
export class KeySlotConflictError extends BackupError {
  /**
   * Builds the error.
   * @param slotId the id both slots have
   */
  constructor(readonly slotId: Uint8Array) {
    super(`key slot ${toHex(slotId)} exists with other bytes`);
  }
}

/** No key slot of that id for this user (the protocol's 1001). */
export class NoSuchKeySlotError extends BackupError {
  /**
   * Builds the error.
   * @param slotId the slot asked for
   */
  constructor(readonly slotId: Uint8Array) {
    super(`no such key slot: ${toHex(slotId)}`);
  }
}

/** The removal of a user's only key slot: the master key would be lost with it. */
export class LastKeySlotError extends BackupError {
  /**
   * Builds the error.
   * @param slotId the slot kept
   */
  constructor(readonly slotId: Uint8Array) {
    super(`key slot ${toHex(slotId)} is the only one: add another before removing it`);
  }
}

/**
 * A first key slot for a user who has plain snapshots: the repository would mix plain and
 * encrypted snapshots (docs/keys_plan.md §2 "No silent mixing"). Nothing stored.
 */
export class PlainSnapshotsError extends BackupError {
  /**
   * Builds the error.
   * @param userId whose repository
   */
  constructor(readonly userId: number) {
    super(
      `user ${userId}'s repository holds plain snapshots, which a key slot would make encrypted: ` +
        "forget them and prune first, or use another account",
    );
  }
}

/**
 * A blob whose encoding does not fit the user's repository (docs/keys_plan.md §2 "No silent
 * mixing"): a sealed blob where the user has no key slot (a plain repository), or a plain one
 * (raw or zstd) where the user has one (an encrypted repository). Nothing stored; the session
 * goes on.
 */
export class RepositoryModeError extends BackupError {
  /**
   * Builds the error.
   * @param userId whose repository
   * @param encrypted whether it is encrypted (has a key slot)
   */
  constructor(readonly userId: number, readonly encrypted: boolean) {
    super(
      encrypted
        ? `user ${userId}'s repository is encrypted: it takes only sealed blobs (give the ` +
          "client the repository's passphrase or key file)"
        : `user ${userId}'s repository is not encrypted: it takes no sealed blobs (a key slot ` +
          "must be added before the first snapshot)",
    );
  }
}

/** A first key slot (an `init`) for a user who has one already: nothing stored. */
export class EncryptedAlreadyError extends BackupError {
  /**
   * Builds the error.
   * @param userId whose repository
   */
  constructor(readonly userId: number) {
    super(
      `user ${userId}'s repository is encrypted already (another init came first): open it ` +
        "with its passphrase or key file",
    );
  }
}
