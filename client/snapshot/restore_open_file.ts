/**
 * A file of the restorer's batches while it is written on this thread (`restore_files.ts`): made
 * new with `node:fs` (a system descriptor, for `fchmod` and `fchown`: see `restore_metadata.ts`),
 * write-only unless the batch reads a chunk back from it (one permission check per open instead of
 * two: Deno checks each path against its permissions component by component, a `readlink` each),
 * written and read back with `pwrite` and `pread` (no seeks).
 *
 * @module
 */
import { constants, fstatSync, openSync, readSync, writeSync } from "node:fs";
import type { FileEntry } from "../../protocol/v3/tree.ts";
import type { RestoreError } from "./restore_errors.ts";
import { temporaryName } from "./restore_links.ts";
import { creationMode, type MetadataOptions } from "./restore_metadata.ts";

/** A file to restore into a folder the restorer made or checked (a real folder, not a link). */
export interface PlannedFile {
  entry: FileEntry;
  /** The folder's local path. */
  dir: string;
  /** `dir` was made by this restore: write under the final name (see the module comment). */
  inPlace?: boolean;
  /** Its path beneath the target, for messages and progress. */
  shown: string;
  /** Called once the file is in place, with its metadata. */
  onDone(): Promise<void>;
  /** Called once if the file could not be restored (nothing of it is left). */
  onFailed(error: RestoreError): Promise<void>;
}

/** A planned file being written. */
export interface OpenFile {
  file: PlannedFile;
  /** Where it is written: its final path, or a temporary name beside it. */
  partial: string;
  /** `partial` is the final path. */
  inPlace: boolean;
  /** `partial` was made (by `create`): it is this restore's to remove after a failure. */
  made?: boolean;
  /** It was made with its final mode (no `chmod` needed). */
  modeSet?: boolean;
  /** Its `node:fs` descriptor while open. */
  fd?: number;
  written: number;
  /** Why it could not be restored: it is skipped from then on, removed and reported. */
  failed?: unknown;
  /** Its chunks' bytes, held for a file worker instead of written here. */
  whole?: Uint8Array[];
}

/**
 * Opens `open`'s file, new (never through a link), for writing (and reading when `read`: the batch
 * copies a chunk from it). Under its final name in a folder this restore made, something there
 * already (only a process with the folder's owner's rights could have put it there) is not replaced
 * in place: the file goes by a temporary name and a rename instead.
 */
export function create(
  open: OpenFile,
  metadata: MetadataOptions,
  modeBits: { kept: number },
  { read }: { read: boolean },
): number {
  const flags = (read ? constants.O_RDWR : constants.O_WRONLY) | constants.O_CREAT |
    constants.O_EXCL | constants.O_NOFOLLOW;
  if (open.inPlace) {
    // In a private folder the file may have its final mode from the start: one `chmod` less, once
    // a file showed that the umask leaves its bits alone (the umask cannot be read without
    // `--allow-sys`; one `fstat` per new combination of bits, not one per file).
    const mode = creationMode(open.file.entry, metadata);
    try {
      const fd = openSync(open.partial, flags, mode ?? 0o600);
      open.made = true;
      if (mode !== undefined && (mode & ~modeBits.kept) !== 0) {
        if ((fstatSync(fd).mode & 0o7777) === mode) modeBits.kept |= mode;
      }
      open.modeSet = mode !== undefined && (mode & ~modeBits.kept) === 0;
      return fd;
    } catch (error) {
      if ((error as { code?: string }).code !== "EEXIST") throw error;
      open.inPlace = false;
      open.partial = temporaryName(open.file.dir);
    }
  }
  const fd = openSync(open.partial, flags, 0o600);
  open.made = true;
  return fd;
}

/** `length` bytes of `open` at `offset` (written earlier in this batch). */
export function readAt(open: OpenFile, offset: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let got = 0; got < length;) {
    const n = readSync(open.fd!, bytes, got, length - got, offset + got);
    if (n === 0) throw new Error("a chunk written earlier in this restore is gone");
    got += n;
  }
  return bytes;
}

/** Writes `bytes` into `open` at `offset`. */
export function writeAt(open: OpenFile, offset: number, bytes: Uint8Array): void {
  for (let done = 0; done < bytes.length;) {
    done += writeSync(open.fd!, bytes, done, bytes.length - done, offset + done);
  }
}

/** `entry` for a file worker: no content (it has the bytes), its owner resolved here. */
export function wholeEntry(
  entry: FileEntry,
  metadata: MetadataOptions,
): Omit<FileEntry, "content"> {
  const { content: _, ...rest } = entry;
  if (!metadata.asRoot) return rest;
  const owner = metadata.owners?.ownerOf(entry) ?? entry;
  return { ...rest, uid: owner.uid, gid: owner.gid, user: undefined, group: undefined };
}
