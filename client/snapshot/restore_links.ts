/**
 * Links on restore: symbolic links made as links (never followed: their targets are text), and
 * hard links, the later names of an inode the snapshot saw under several names. In a folder that
 * was there before the restore, both are made under a temporary name and renamed into place, so
 * that an existing file or link is replaced in one step and a folder in the way is refused, never
 * removed; in a folder the restore made (empty, private) they are made under their names at once.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { FileEntry, SymlinkEntry } from "../../protocol/v3/tree.ts";
import { applyMetadata, type MetadataOptions } from "./restore_metadata.ts";

/** A temporary name in `dir` no entry of a snapshot is likely to have. */
export function temporaryName(dir: string): string {
  return `${dir}/.restore-${crypto.randomUUID().slice(0, 12)}.tmp`;
}

/**
 * Makes the link `entry` in `dir`, with its owner (as root) and times; `inPlace`: `dir` is a folder
 * this restore made (nothing to replace there), so the link is made under its name directly.
 */
export async function placeSymlink(
  dir: string,
  entry: SymlinkEntry,
  metadata: MetadataOptions,
  inPlace = false,
): Promise<void> {
  const path = `${dir}/${entry.name}`;
  if (inPlace && await madeNew(() => Deno.symlink(entry.target, path))) {
    try {
      return applyMetadata(path, entry, metadata);
    } catch (error) {
      await Deno.remove(path).catch(() => {});
      throw error;
    }
  }
  const temporary = temporaryName(dir);
  await Deno.symlink(entry.target, temporary);
  try {
    applyMetadata(temporary, entry, metadata);
    await renameOverNonFolder(temporary, path);
  } finally {
    await Deno.remove(temporary).catch(() => {});
  }
}

/**
 * Gives the file at `existing` the further name `name` in `dir` (a hard link); `inPlace` as for
 * `placeSymlink`.
 */
export async function placeHardLink(
  existing: string,
  dir: string,
  name: string,
  inPlace = false,
): Promise<void> {
  if (inPlace && await madeNew(() => Deno.link(existing, `${dir}/${name}`))) return;
  const temporary = temporaryName(dir);
  await Deno.link(existing, temporary);
  try {
    await renameOverNonFolder(temporary, `${dir}/${name}`);
  } finally {
    // A rename onto another name of the same inode does nothing and leaves the temporary name.
    await Deno.remove(temporary).catch(() => {});
  }
}

/**
 * Runs `make` (a link made under its final name); false if something is there already (only the
 * folder's owner could have put it there): the caller then goes by a temporary name and a rename.
 */
async function madeNew(make: () => Promise<void>): Promise<boolean> {
  try {
    await make();
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) return false;
    throw error;
  }
}

async function renameOverNonFolder(from: string, to: string): Promise<void> {
  if ((await Deno.lstat(to).catch(() => undefined))?.isDirectory) {
    throw new Error("a folder is in the way (not replaced)");
  }
  await Deno.rename(from, to);
}

/** An inode restored under several names: its first name, and whether it is in place yet. */
export interface Inode {
  path: string;
  content: string;
  /** Names of it still to come (`links` minus those seen): forgotten at zero. */
  namesLeft: number;
  done: boolean;
  /** Later names waiting for the first to be in place (given its error if it failed). */
  waiting: Array<(failed?: Error) => Promise<void>>;
  /** Why the first name could not be restored. */
  failed?: Error;
}

/** What to do with a file entry: write it (maybe as an inode's first name), or link it. */
export type HardLinkRole = { first?: Inode; later?: undefined } | {
  later: Inode;
  first?: undefined;
};

/**
 * The hard links of one restore: entries with the same device and inode and `links > 1` become one
 * file with several names, when their contents agree (a file changed between the archiver's reads
 * of its names is restored as separate copies). At most `maxInodes` inodes are tracked at once (an
 * inode is forgotten once all its names are seen); past that, later names are copies.
 *
 * @example
 * ```ts
 * import { HardLinks } from "./restore_links.ts";
 * import assert from "node:assert/strict";
 * const base = { type: "file" as const, mode: 0o644, mtimeMs: 0, atimeMs: 0, uid: 0, gid: 0,
 *   device: 1, inode: 9, links: 2, size: 0, content: [] };
 * const links = new HardLinks(10);
 * const first = links.roleOf({ ...base, name: "a" }, "/t/a").first!;
 * assert.equal(links.roleOf({ ...base, name: "b" }, "/t/b").later, first);
 * ```
 */
export class HardLinks {
  readonly #inodes = new Map<string, Inode>();
  /** Whether an inode was not tracked for want of room (the restorer warns once). */
  overflowed = false;

  /** @param maxInodes inodes tracked at once */
  constructor(readonly maxInodes: number) {}

  /**
   * For a file entry about to be restored at `path`: `later` if it is a later name of an inode
   * seen before (the caller links it with `whenPlaced`), else `first` if it is the first name of
   * one (the caller writes it and calls `placed` once it is in place), else neither.
   */
  roleOf(entry: FileEntry, path: string): HardLinkRole {
    if (entry.links < 2) return {};
    const key = `${entry.device}:${entry.inode}`;
    const content = contentKey(entry);
    const known = this.#inodes.get(key);
    if (known && known.content === content) {
      if (--known.namesLeft <= 0) this.#inodes.delete(key);
      return { later: known };
    }
    if (known) return {};
    if (this.#inodes.size >= this.maxInodes) {
      this.overflowed = true;
      return {};
    }
    const first = { path, content, namesLeft: entry.links - 1, done: false, waiting: [] };
    this.#inodes.set(key, first);
    return { first };
  }

  /**
   * Runs `link` now if `inode`'s first name is in place (or failed: then with its error), else
   * once it is.
   */
  async whenPlaced(inode: Inode, link: (failed?: Error) => Promise<void>): Promise<void> {
    if (inode.done) await link(inode.failed);
    else inode.waiting.push(link);
  }

  /** `inode`'s first name is in place, or failed with `error`: runs the names that waited. */
  async placed(inode: Inode, error?: Error): Promise<void> {
    inode.done = true;
    inode.failed = error;
    for (const link of inode.waiting.splice(0)) await link(error);
  }
}

function contentKey(entry: FileEntry): string {
  return `${entry.size}:${createHash("sha256").update(entry.content.join(",")).digest("hex")}`;
}
