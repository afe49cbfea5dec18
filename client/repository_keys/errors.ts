/**
 * What the repository's keys and seals throw (docs/keys_plan.md).
 *
 * @module
 */
import { BackupError } from "../../common/backup_error.ts";

/** A key slot or master key whose bytes are not one this format writes (or are over its limits). */
export class KeySlotFormatError extends BackupError {
  /**
   * Builds the error.
   * @param reason what is wrong with it
   */
  constructor(reason: string) {
    super(`not a key slot: ${reason}`);
  }
}

/** A key slot that the passphrase or key file given does not open. */
export class WrongKeyError extends BackupError {
  /** Builds the error. */
  constructor() {
    super("the passphrase or key file does not open this repository's key");
  }
}

/**
 * Sealed bytes that do not open as what they were asked for: changed, cut, sealed under another
 * repository's key, or served for another id or kind.
 */
export class SealBrokenError extends BackupError {
  /**
   * Builds the error.
   * @param what which blob or record
   */
  constructor(what: string) {
    super(`${what} does not open with this repository's key: changed, or not what it claims to be`);
  }
}
