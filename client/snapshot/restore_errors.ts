/**
 * The restorer's errors: each names the path (beneath the target) it was restoring, so that a
 * message says which file a damaged blob or a hostile tree would have written.
 *
 * @module
 */
import { BackupError } from "../../common/backup_error.ts";

/** A file, link or folder that could not be restored; nothing half-written is left in its place. */
export class RestoreError extends BackupError {
  /**
   * @param path the path beneath the target (as `a/b/c`), or `.` for the target itself
   * @param reason what went wrong
   */
  constructor(readonly path: string, reason: string, options?: ErrorOptions) {
    super(`${path}: ${reason}`, options);
  }
}

/**
 * A snapshot the restorer refuses to follow: a folder that names one of its own ancestors, trees
 * nested deeper than allowed, or more tree bytes held along one path than the limit. A server or a
 * tree that does this is broken or hostile.
 */
export class UnsafeSnapshotError extends RestoreError {}
