/**
 * An entry's metadata on what the restorer made: owner (as root), mode, then times, in that order
 * because `chown` clears setuid and setgid bits and `chmod` and `chown` leave the times alone.
 * Nothing here follows a link: owners are set with `lchown` and a link's times with `lutimes`
 * (Deno has neither; `node:fs` has both); a link's mode is never set (Linux ignores it). Files and
 * folders, which the restorer made itself and checked, get their times with `Deno.utime`.
 *
 * @module
 */
import { lchownSync, lutimesSync } from "node:fs";
import type { TreeEntry } from "../../protocol/v3/tree.ts";
import type { OwnerResolver } from "./restore_owners.ts";

/** Permission bits anyone may set; setuid and setgid (0o6000) are kept only by a restore as root. */
export const UNPRIVILEGED_MODE_BITS = 0o1777;
/** All permission bits a tree may carry. */
export const ALL_MODE_BITS = 0o7777;

/** How metadata is applied. */
export interface MetadataOptions {
  /** Restoring as root: owners are set and setuid/setgid bits kept. */
  asRoot: boolean;
  /** Names to ids on this system (as root). */
  owners?: OwnerResolver;
}

/**
 * Gives `path` (a file, folder or link the restorer made, never followed) `entry`'s owner (as
 * root), mode (not for links) and times (access and modification; a change time cannot be set).
 *
 * @throws the file system's errors.
 */
export function applyMetadata(path: string, entry: TreeEntry, options: MetadataOptions): void {
  // Synchronous: three system calls of microseconds each, cheaper than three trips to a worker
  // thread (a restore of many small files spends its time here).
  if (options.asRoot) {
    const owner = options.owners?.ownerOf(entry) ?? entry;
    lchownSync(path, owner.uid, owner.gid);
  }
  if (entry.type !== "symlink") {
    Deno.chmodSync(path, entry.mode & (options.asRoot ? ALL_MODE_BITS : UNPRIVILEGED_MODE_BITS));
  }
  if (entry.type === "symlink") {
    lutimesSync(path, linkTime(entry.atimeMs), linkTime(entry.mtimeMs));
  } else {
    // A file or folder the restorer made (not a link): `utime` takes any time, `lutimes` not all.
    Deno.utimeSync(path, new Date(entry.atimeMs), new Date(entry.mtimeMs));
  }
}

/**
 * `applyMetadata` for a file the restorer made and still holds open as `file`: owner and mode by
 * `path` (Deno has no `fchown` or `fchmod`), times through the open file (`futimens`: no path to
 * resolve). The caller closes `file` afterwards (a close leaves the times alone).
 *
 * @throws the file system's errors.
 */
export function applyFileMetadata(
  path: string,
  file: Deno.FsFile,
  entry: TreeEntry,
  options: MetadataOptions,
  modeSet = false,
): void {
  if (options.asRoot) {
    const owner = options.owners?.ownerOf(entry) ?? entry;
    lchownSync(path, owner.uid, owner.gid);
  }
  if (!modeSet) Deno.chmodSync(path, wantedMode(entry, options));
  file.utimeSync(new Date(entry.atimeMs), new Date(entry.mtimeMs));
}

/**
 * The mode to create `entry`'s file with, hoping it needs no `chmod` afterwards
 * (`applyFileMetadata` with `modeSet`; the umask may still clear bits, which the caller checks), or
 * `undefined` if it has setuid, setgid or sticky bits: a `chown` clears the first two, and a file
 * made with them may not keep them.
 */
export function creationMode(entry: TreeEntry, options: MetadataOptions): number | undefined {
  const mode = wantedMode(entry, options);
  return (mode & 0o7000) !== 0 ? undefined : mode;
}

function wantedMode(entry: TreeEntry, options: MetadataOptions): number {
  return entry.mode & (options.asRoot ? ALL_MODE_BITS : UNPRIVILEGED_MODE_BITS);
}

/**
 * A time `lutimes` takes: Deno 2.9.6's refuses a time before 1970 with a fraction of a second
 * (EINVAL: it passes negative nanoseconds), so such a link's time is rounded down to the second.
 */
function linkTime(ms: number): Date {
  return new Date(ms < 0 ? Math.floor(ms / 1000) * 1000 : ms);
}
