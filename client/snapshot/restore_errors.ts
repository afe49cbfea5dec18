/**
 * The restorer's errors: each names the path (beneath the target) it was restoring, so that a
 * message says which file a damaged blob or a hostile tree would have written.
 *
 * @module
 */
import { BackupError } from "../../common/backup_error.ts";
import { ConnectionLostError, isSocketFailure } from "../../io/connection_errors.ts";
import { ProtocolError } from "../../protocol/errors.ts";

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

/**
 * Whether a restore goes on past `error`, met while restoring one path (as restic does: the path
 * is reported, the rest restored): a blob the server lacks or sent wrong, a size that does not add
 * up, a file-system error. Not past a lost connection or a broken protocol (every later path would
 * fail the same way), a hostile snapshot, or `signal`'s abort.
 */
export function isPathFailure(error: unknown, signal?: AbortSignal): boolean {
  if (signal?.aborted && error === signal.reason) return false;
  return !(error instanceof UnsafeSnapshotError || error instanceof ConnectionLostError ||
    error instanceof ProtocolError || isSocketFailure(error));
}
