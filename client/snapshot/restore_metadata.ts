/**
 * An entry's metadata on what the restorer made: owner (as root), mode, then times. Owner before
 * mode because `chown` clears setuid and setgid bits; `chmod` and `chown` leave the times alone.
 *
 * Nothing here goes by a path that could have been swapped for a link since the restorer made or
 * checked it (a restore as root into a folder other users can write would otherwise `chmod` or
 * `chown` whatever a planted link points at): a file's owner, mode and times are set through its
 * open descriptor (`fchown`, `fchmod`, `futimens`); a folder is opened, checked to be the folder
 * at its path (`lstat`: a folder, the same device and inode) and set through that descriptor; a
 * link gets `lchown` and `lutimes`, which act on the link itself, and no mode (Linux ignores it).
 * Deno 2.9.6 has none of the descriptor calls (`FsFile` has `utime` only, and no descriptor number
 * to hand elsewhere), so files and folders are opened with `node:fs`, whose numbers are the
 * system's descriptors. `O_NOFOLLOW` is not enough on its own: unless run with `-A`, Deno checks a
 * path against its permissions by resolving its links (a `readlink` per component) and then opens
 * the resolved path, so an existing link is followed whatever the flags say (a name that does not
 * exist yet, as `O_CREAT|O_EXCL` makes, is not resolved).
 *
 * @module
 */
import {
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fstatSync,
  futimesSync,
  lchownSync,
  lutimesSync,
  openSync,
} from "node:fs";
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
 * Gives the link or folder at `path` (made or checked by the restorer) `entry`'s owner (as root),
 * mode (not for links) and times (access and modification; a change time cannot be set), never
 * through a link: a folder swapped for a link meanwhile is refused (`ELOOP` or `ENOTDIR`).
 *
 * @throws the file system's errors.
 */
export function applyMetadata(path: string, entry: TreeEntry, options: MetadataOptions): void {
  if (entry.type === "symlink") {
    if (options.asRoot) {
      const owner = options.owners?.ownerOf(entry) ?? entry;
      lchownSync(path, owner.uid, owner.gid);
    }
    lutimesSync(path, linkTime(entry.atimeMs), linkTime(entry.mtimeMs));
    return;
  }
  const fd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  try {
    const held = fstatSync(fd);
    const there = Deno.lstatSync(path);
    if (!there.isDirectory || there.ino !== held.ino || there.dev !== held.dev) {
      throw new Error("not the folder the restore made (a link or another folder in its place)");
    }
    applyFileMetadata(fd, path, entry, options);
  } finally {
    closeSync(fd);
  }
}

/**
 * `applyMetadata` for a file or folder the restorer holds open as `fd` (a `node:fs` descriptor):
 * owner, mode (unless `modeSet`: it was made with it) and times, all through `fd`. `path` is used
 * only for a time before 1970 with a fraction of a second, which Deno 2.9.6's `futimes` refuses
 * (it passes negative nanoseconds): then the file is opened again by path for `FsFile.utime`,
 * once `fstat` says it is the same file as `fd`. The caller closes `fd` afterwards (a close leaves the times alone).
 *
 * @throws the file system's errors.
 */
export function applyFileMetadata(
  fd: number,
  path: string,
  entry: TreeEntry,
  options: MetadataOptions,
  modeSet = false,
): void {
  if (options.asRoot) {
    const owner = options.owners?.ownerOf(entry) ?? entry;
    fchownSync(fd, owner.uid, owner.gid);
  }
  if (!modeSet) fchmodSync(fd, wantedMode(entry, options));
  if (entry.atimeMs >= 0 && entry.mtimeMs >= 0) {
    futimesSync(fd, seconds(entry.atimeMs), seconds(entry.mtimeMs));
    return;
  }
  // Opened again only if it is still the file held (a link put here meanwhile is followed).
  const again = Deno.openSync(path, { read: true });
  try {
    const held = fstatSync(fd);
    const opened = again.statSync();
    if (opened.ino !== held.ino || opened.dev !== held.dev) {
      throw new Error("not the file the restore made (something else in its place)");
    }
    again.utimeSync(new Date(entry.atimeMs), new Date(entry.mtimeMs));
  } finally {
    again.close();
  }
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
 * `ms` as the seconds `futimes` takes, exact to the millisecond: `node:fs` turns seconds into
 * nanoseconds by truncation, and `ms / 1000` in floating point often falls just below (…122.99…
 * for …123), so half a microsecond is added, more than the error and less than a millisecond.
 */
function seconds(ms: number): number {
  return (ms + 0.0005) / 1000;
}

/**
 * A time `lutimes` takes: Deno 2.9.6's refuses a time before 1970 with a fraction of a second
 * (EINVAL: it passes negative nanoseconds), so such a link's time is rounded down to the second.
 */
function linkTime(ms: number): Date {
  return new Date(ms < 0 ? Math.floor(ms / 1000) * 1000 : ms);
}
