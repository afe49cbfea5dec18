/**
 * Writing a download under a temporary name beside its target and renaming it into place only once
 * it is complete, so that a reader never sees half a file and a failed download leaves nothing.
 * Temporary files in progress are known, so that an interrupted command (Ctrl-C) can remove them.
 *
 * @module
 */

import { BackupError } from "../common/backup_error.ts";

/** A local file that cannot be written (disk full, no permission): the client's side, not the server's. */
export class LocalFileError extends BackupError {}

const inProgress = new Set<string>();

/** Removes every temporary file still being written; for a command that is interrupted. */
export function removePartialFiles(): void {
  for (const path of inProgress) {
    try {
      Deno.removeSync(path);
    } catch {
      // already renamed or removed
    }
  }
  inProgress.clear();
}

/**
 * Creates a new temporary file beside `path` (never following or replacing anything), lets `write`
 * fill it, lets `finish` adjust it (times, mode), then renames it over `path`. On any failure the
 * temporary file is removed and `path` is left as it was.
 */
export async function writeThenRename<T>(
  path: string,
  write: (file: Deno.FsFile) => Promise<T>,
  finish?: (partial: string, result: T) => Promise<void>,
): Promise<T> {
  const partial = `${path}.partial-${crypto.randomUUID().slice(0, 8)}`;
  inProgress.add(partial);
  try {
    const result = await (async () => {
      using file = await Deno.open(partial, { write: true, createNew: true, mode: 0o600 });
      return await write(file);
    })();
    await finish?.(partial, result);
    await Deno.rename(partial, path);
    return result;
  } catch (error) {
    // The file system's own errors say what failed but not where: name the file, the one asked
    // for (the temporary name means nothing to whoever reads the message).
    if (error instanceof BackupError || !(error instanceof Error)) throw error;
    const reason = error.message.replaceAll(partial, path);
    throw new LocalFileError(`cannot write ${path}: ${reason}`, { cause: error });
  } finally {
    inProgress.delete(partial);
    await Deno.remove(partial).catch(() => {});
  }
}
