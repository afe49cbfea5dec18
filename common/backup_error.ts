/**
 * The base of this project's errors: it names each error after its class, so that a log line or a
 * message says `QuotaExceededError: ...` without every class setting `name` itself.
 *
 * @example
 * ```ts
 * import { BackupError } from "./backup_error.ts";
 * import assert from "node:assert/strict";
 * class DiskFullError extends BackupError {}
 * assert.equal(new DiskFullError("no space").name, "DiskFullError");
 * ```
 *
 * @module
 */

/** See the module comment. */
export class BackupError extends Error {
  /**
   * Builds the error, named after its class.
   * @param message what went wrong, saying what was expected and what was got
   */
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}
