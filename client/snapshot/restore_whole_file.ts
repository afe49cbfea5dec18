/**
 * One small file written whole, as the restorer's file workers write it (`restore_file_pool.ts`):
 * made new under its final name in a folder the restore made (else, if something is there, under a
 * temporary name and renamed into place), its bytes written, then owner, mode and times through
 * its descriptor (`restore_metadata.ts`), then closed. Pure file-system work, the same on the main
 * thread and in a worker; what fails leaves nothing behind.
 *
 * @module
 */
import { closeSync, constants, fstatSync, openSync, writeSync } from "node:fs";
import type { FileEntry } from "../../protocol/v3/tree.ts";
import { temporaryName } from "./restore_links.ts";
import { applyFileMetadata } from "./restore_metadata.ts";

/** A file to write whole: where, its bytes, and its metadata. */
export interface WholeFile {
  /** The folder (made by this restore, private until its contents are in place). */
  dir: string;
  /** Its entry, owner already resolved (`uid`, `gid`), content left out. */
  entry: Omit<FileEntry, "content">;
  /** Its chunks' bytes in order, adding up to `entry.size`. */
  chunks: Uint8Array[];
  /** Owners are set (a restore as root). */
  asRoot: boolean;
  /** The mode to give it, permission bits the restore may set. */
  mode: number;
}

/** How a file given to `writeOutcome` ended: `undefined` if written, else why not. */
export type WholeFileOutcome = { message: string; code?: string } | undefined;

/**
 * Permission bits files were seen to keep when made with them (the umask cleared none): such a
 * file needs no `fchmod`. One per restore and thread (the umask may change between restores).
 */
export interface KeptModeBits {
  kept: number;
}

/** `writeWholeFile`, its failure as an outcome (a worker's answer carries it as a message). */
export function writeOutcome(file: WholeFile, modeBits: KeptModeBits): WholeFileOutcome {
  try {
    writeWholeFile(file, modeBits);
    return undefined;
  } catch (error) {
    return { message: (error as Error).message, code: (error as { code?: string }).code };
  }
}

/**
 * Writes `file`; see the module comment.
 *
 * @throws the file system's errors (a folder in the way of the rename is one: never replaced).
 */
export function writeWholeFile(file: WholeFile, modeBits: KeptModeBits): void {
  const path = `${file.dir}/${file.entry.name}`;
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  // Made with its mode but for the bits the umask or a `chown` may clear: set again by `fchmod`
  // unless `modeBits` says the umask leaves all of them (no setuid, setgid or sticky bit).
  const createMode = file.mode & 0o777;
  let partial = path;
  let fd: number;
  let modeSet = false;
  try {
    fd = openSync(partial, flags, createMode);
  } catch (error) {
    // Something there already (only the folder's owner could have put it): never written through.
    if ((error as { code?: string }).code !== "EEXIST") throw error;
    partial = temporaryName(file.dir);
    fd = openSync(partial, flags, 0o600);
  }
  try {
    if (partial === path && createMode === file.mode) {
      // One `fstat` per new combination of bits, not one per file (the umask needs `--allow-sys`).
      if ((createMode & ~modeBits.kept) !== 0 && (fstatSync(fd).mode & 0o7777) === createMode) {
        modeBits.kept |= createMode;
      }
      modeSet = (createMode & ~modeBits.kept) === 0;
    }
    for (const chunk of file.chunks) {
      for (let done = 0; done < chunk.length;) {
        done += writeSync(fd, chunk, done, chunk.length - done);
      }
    }
    const entry = { ...file.entry, content: [] };
    applyFileMetadata(fd, partial, entry, { asRoot: file.asRoot }, modeSet);
    closeSync(fd);
    fd = -1;
    if (partial !== path) {
      try {
        Deno.renameSync(partial, path);
      } catch (error) {
        if (Deno.lstatSync(path).isDirectory) {
          throw new Error("a folder is in the way (not replaced)", { cause: error });
        }
        throw error;
      }
    }
  } catch (error) {
    if (fd >= 0) closeSync(fd);
    try {
      Deno.removeSync(partial);
    } catch {
      // Not there: nothing to leave behind.
    }
    throw error;
  }
}
