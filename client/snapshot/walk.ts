/**
 * What the archiver's walk decides per path, apart from reading files: which paths are left out
 * (`--exclude` globs as `local_tree.ts` reads them, `--exclude-caches`, `--exclude-if-present`,
 * `--one-file-system`), what kind of thing a path is, and the metadata of its tree entry.
 *
 * @module
 */
import { excludeTest } from "../local_tree.ts";
import { MODE_BITS, type TreeEntry } from "../../protocol/v3/tree.ts";
import type { StatLike } from "./parent_index.ts";

/** The name of the file that marks a cache folder (https://bford.info/cachedir/). */
export const CACHEDIR_TAG = "CACHEDIR.TAG";
/** What a `CACHEDIR.TAG` must start with to count. */
export const CACHEDIR_SIGNATURE = "Signature: 8a477f597d28d172789f06886806bc55";

/** What to leave out of a run. */
export interface ExcludeOptions {
  /** Globs (see `excludeTest`), matched against the path below each path given. */
  exclude?: string[];
  /** Leave out folders holding a valid `CACHEDIR.TAG` (as restic: the whole folder). */
  excludeCaches?: boolean;
  /** Leave out folders holding a file of one of these names (the whole folder). */
  excludeIfPresent?: string[];
  /**
   * Do not go into folders on another file system than the path given (mount points are kept as
   * empty folders, as restic keeps them).
   */
  oneFileSystem?: boolean;
}

/** Which kind of entry a path makes, or `special` for what a snapshot does not keep. */
export type EntryKind = TreeEntry["type"] | "special";

/** The kind of `info` (from `lstat`). */
export function kindOf(info: Deno.FileInfo): EntryKind {
  if (info.isSymlink) return "symlink";
  if (info.isFile) return "file";
  if (info.isDirectory) return "dir";
  return "special";
}

/** A name for the kind of a special file, for its warning. */
export function specialName(info: Deno.FileInfo): string {
  if (info.isFifo) return "a FIFO";
  if (info.isSocket) return "a socket";
  if (info.isBlockDevice) return "a block device";
  if (info.isCharDevice) return "a character device";
  return "not a file, folder or link";
}

/** The exclusion rules of a run. */
export class WalkRules {
  readonly #globs: (relative: string) => boolean;
  readonly #markers: { name: string; signature?: string }[];
  readonly oneFileSystem: boolean;

  /** @param options the run's exclude options */
  constructor(options: ExcludeOptions = {}) {
    this.#globs = excludeTest(options.exclude ?? []);
    this.#markers = (options.excludeIfPresent ?? []).map((name) => ({ name }));
    if (options.excludeCaches) {
      this.#markers.push({ name: CACHEDIR_TAG, signature: CACHEDIR_SIGNATURE });
    }
    this.oneFileSystem = options.oneFileSystem ?? false;
  }

  /** Whether a glob leaves out `relative` (the path below the path given; never `""`). */
  excludedByName(relative: string): boolean {
    return this.#globs(relative);
  }

  /** Whether the folder `path` holds a marker that leaves it out. */
  async excludedFolder(path: string): Promise<boolean> {
    for (const marker of this.#markers) {
      let info: Deno.FileInfo;
      try {
        info = await Deno.lstat(`${path}/${marker.name}`);
      } catch {
        continue; // absent or unreadable: no marker
      }
      if (marker.signature === undefined) return true;
      if (info.isFile && await startsWith(`${path}/${marker.name}`, marker.signature)) return true;
    }
    return false;
  }
}

async function startsWith(path: string, text: string): Promise<boolean> {
  const want = new TextEncoder().encode(text);
  try {
    using file = await Deno.open(path);
    const got = new Uint8Array(want.length);
    let filled = 0;
    while (filled < got.length) {
      const n = await file.read(got.subarray(filled));
      if (n === null) return false;
      filled += n;
    }
    return got.every((byte, i) => byte === want[i]);
  } catch {
    return false;
  }
}

/** What the unchanged check compares, from `lstat`. */
export function statOf(info: Deno.FileInfo, type: TreeEntry["type"]): StatLike {
  return {
    type,
    size: info.size,
    mtimeMs: info.mtime?.getTime() ?? 0,
    ctimeMs: info.ctime?.getTime(),
    inode: info.ino ?? 0,
    device: info.dev,
  };
}

/** An entry's metadata from `lstat`, without the kind's own fields. */
export type Metadata = Omit<TreeEntry, "type" | "size" | "content" | "subtree" | "target">;

/**
 * The metadata of a tree entry named `name` from `lstat`'s `info`. Owner names come from
 * `owners`, where the system has them.
 */
export function metadataOf(name: string, info: Deno.FileInfo, owners?: OwnerNames): Metadata {
  const uid = info.uid ?? 0;
  const gid = info.gid ?? 0;
  const meta: Metadata = {
    name,
    mode: (info.mode ?? 0) & MODE_BITS,
    mtimeMs: info.mtime?.getTime() ?? 0,
    atimeMs: info.atime?.getTime() ?? 0,
    ctimeMs: info.ctime?.getTime(),
    uid,
    gid,
    inode: info.ino ?? 0,
    device: info.dev,
    links: info.nlink ?? 1,
  };
  const user = owners?.user(uid);
  const group = owners?.group(gid);
  if (user !== undefined) meta.user = user;
  if (group !== undefined) meta.group = group;
  return meta;
}

/** Owner and group names of numeric ids, from `/etc/passwd` and `/etc/group` (read once). */
export class OwnerNames {
  readonly #users: Map<number, string>;
  readonly #groups: Map<number, string>;

  private constructor(users: Map<number, string>, groups: Map<number, string>) {
    this.#users = users;
    this.#groups = groups;
  }

  /** Reads the system's tables; a table that cannot be read gives no names. */
  static async load(): Promise<OwnerNames> {
    return new OwnerNames(await idTable("/etc/passwd"), await idTable("/etc/group"));
  }

  /** The name of user `uid`, if the system has one. */
  user(uid: number): string | undefined {
    return this.#users.get(uid);
  }

  /** The name of group `gid`, if the system has one. */
  group(gid: number): string | undefined {
    return this.#groups.get(gid);
  }
}

/** `name:x:id:...` lines into id → name (the first name of an id wins, as getpwuid's does). */
async function idTable(path: string): Promise<Map<number, string>> {
  const table = new Map<number, string>();
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    return table;
  }
  for (const line of text.split("\n")) {
    const [name, , id] = line.split(":");
    const n = Number(id);
    if (name && Number.isSafeInteger(n) && n >= 0 && !table.has(n) && name.length <= 255) {
      table.set(n, name);
    }
  }
  return table;
}
