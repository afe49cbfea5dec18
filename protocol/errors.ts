/**
 * The codec's errors, and the two answers of the protocol that are errors to whoever gets them: no
 * such file (1001) and no files (1002). Which status each error becomes on the wire is decided in
 * one place: `server/error_status.ts`.
 *
 * @module
 */
import { BackupError } from "../common/backup_error.ts";

/** A frame that breaks the protocol: unknown op, a length out of range, bytes that cannot be parsed. */
export class ProtocolError extends BackupError {}

/** A file name refused by the rules of the protocol (see `validateName`). */
export class InvalidNameError extends ProtocolError {
  /**
   * Builds the error.
   * @param reason why the name is refused
   */
  constructor(reason: string) {
    super(`invalid file name: ${reason}`);
  }
}

/** The named file does not exist for this user (1001). */
export class FileNotFoundError extends BackupError {
  /**
   * Builds the error.
   * @param fileName the name as requested
   */
  constructor(readonly fileName: string) {
    super(`file does not exist: ${fileName}`);
  }
}

/** The user has no stored files (1002). */
export class NoFilesError extends BackupError {
  /** Builds the error. */
  constructor() {
    super("this user has no files");
  }
}
