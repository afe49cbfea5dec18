/**
 * The errors storage throws: each says what the contract refused or found, and carries what the
 * server needs to answer it. Which answer each becomes is decided in one place,
 * `server/error_status.ts`; storage imports nothing from the protocol's codec errors or the server.
 *
 * @module
 */
import { BackupError } from "../common/backup_error.ts";

/** No such file, or no such version of it, for this user (the protocol's 1001). */
export class NoSuchFileError extends BackupError {
  /**
   * Builds the error.
   * @param fileName the name as requested
   */
  constructor(readonly fileName: string) {
    super(`file does not exist: ${fileName}`);
  }
}

/**
 * A name the protocol allows that this store cannot hold (too long for an object key): refused
 * whole, never cut.
 */
export class NameRefusedError extends BackupError {
  /**
   * Builds the error.
   * @param reason why this store refuses the name
   */
  constructor(reason: string) {
    super(`invalid file name: ${reason}`);
  }
}

/** A request over a limit: the file size limit, the user's quota. */
export class LimitExceededError extends BackupError {}

/** A path under the root that storage refuses to follow: a symbolic link or a special file. */
export class UnsafePathError extends BackupError {}

/** An upload or a declared size that would take a user past the quota. */
export class QuotaExceededError extends LimitExceededError {
  /**
   * Builds the error.
   * @param userId whose quota
   * @param wouldUse bytes the user would use
   * @param quota the quota in bytes
   */
  constructor(readonly userId: number, wouldUse: number, readonly quota: number) {
    super(`user ${userId} would store ${wouldUse} bytes, over the quota of ${quota}`);
  }
}

/**
 * A name that would be both a file and a folder: `a` when `a/b` is stored, or `a/b` when `a` is.
 * Names are keys, but a restore writes them as paths, so the rule of a file system holds.
 */
export class NameConflictError extends BackupError {
  /**
   * Builds the error.
   * @param message which names collide
   */
  constructor(message: string) {
    super(message);
  }
}

/** An upload whose bytes do not have the SHA-256 the client sent: nothing was stored. */
export class DigestMismatchError extends BackupError {
  /**
   * Builds the error.
   * @param fileName the name uploaded
   */
  constructor(readonly fileName: string) {
    super(`the bytes received for ${fileName} do not have the SHA-256 the client sent`);
  }
}

/**
 * A replace refused because the account is append-only and the server keeps no past versions
 * (`--keep-days 0`), so the replace would destroy the stored version: it stays.
 */
export class ReplaceRefusedError extends BackupError {
  /**
   * Builds the error.
   * @param fileName the name that exists
   */
  constructor(readonly fileName: string) {
    super(
      `${fileName} exists and this account is append-only on a server that keeps no past ` +
        "versions (--keep-days 0): a replace would destroy it",
    );
  }
}

/** A delete refused because the account is append-only: the stored version stays. */
export class DeleteRefusedError extends BackupError {
  /**
   * Builds the error.
   * @param fileName the name whose delete was refused
   */
  constructor(readonly fileName: string) {
    super(`deletes are refused: the account is append-only (${fileName} stays)`);
  }
}

/** Stored data that is not what the index says (a data file missing or of another size). */
export class CorruptStoreError extends BackupError {
  /**
   * Builds the error.
   * @param message what was found
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}
