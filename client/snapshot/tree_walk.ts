/**
 * Reading a snapshot's trees through a `BlobSource`, for `ls`, `find`, `diff` and `dump`: a
 * depth-first walk that holds one tree per folder on the current path (never the whole snapshot),
 * and the entry at a path. The differences between two trees are `tree_diff.ts`'s, a file's bytes
 * `file_content.ts`'s.
 *
 * A tree from the server is decoded strictly (`decodeTree`); a folder that names one of its own
 * ancestors, folders nested deeper than `maxDepth`, or more than `maxPathTreeBytes` of trees held
 * along one path are refused (`UnsafeSnapshotError`), so a hostile server can neither loop a walk
 * nor make it hold unbounded memory.
 *
 * @module
 */
import { BackupError } from "../../common/backup_error.ts";
import { decodeTree, type Tree, type TreeEntry } from "../../protocol/v3/tree.ts";
import type { BlobId, BlobSource } from "./blobs.ts";
import { UnsafeSnapshotError } from "./restore_errors.ts";

/** Limits of a walk; each has a default (the restorer's). */
export interface WalkLimits {
  /** Folders nested at most this deep below the walk's start (default 1024). */
  maxDepth?: number;
  /** Encoded tree bytes held at once along one path (default 256 MiB). */
  maxPathTreeBytes?: number;
  /**
   * Entries one walk meets at most (default 100,000,000): folders naming one tree again and again
   * would otherwise stand for 2^depth entries.
   */
  maxEntries?: number;
}

/** An entry met by a walk, with its path in the snapshot (`/home/u/a.txt`). */
export interface WalkedEntry {
  path: string;
  entry: TreeEntry;
}

/** What is at a path of a snapshot: the root (no entry), or an entry; `tree` for a folder. */
export interface ResolvedPath {
  /** The path, normalised (`/` for the root). */
  path: string;
  /** The entry there; absent for the snapshot's root. */
  entry?: TreeEntry;
  /** The folder's tree id, for the root or a folder. */
  tree?: BlobId;
}

/** A path that is not in the snapshot, or goes through something that is not a folder. */
export class SnapshotPathError extends BackupError {}

const DEFAULT_MAX_DEPTH = 1024;
const DEFAULT_MAX_PATH_TREE_BYTES = 256 * 1024 * 1024;
const DEFAULT_MAX_ENTRIES = 100_000_000;

/** Fetches and decodes one tree. @throws {CorruptTreeError}, what the source throws. */
export async function loadTree(source: BlobSource, id: BlobId): Promise<Tree> {
  return decodeTree(await source.get(id, "tree"));
}

/** The components of a path in a snapshot (`/a//b/` → `["a", "b"]`); `.` and `..` are refused. */
export function pathComponents(path: string): string[] {
  const parts = path.split("/").filter((part) => part !== "");
  if (parts.some((part) => part === "." || part === "..")) {
    throw new SnapshotPathError(`${path}: a path in a snapshot has no . or .. components`);
  }
  return parts;
}

/**
 * What is at `path` in the tree `root`.
 *
 * @throws {SnapshotPathError} if nothing is there.
 */
export async function resolvePath(
  source: BlobSource,
  root: BlobId,
  path: string,
): Promise<ResolvedPath> {
  const parts = pathComponents(path);
  let tree = root;
  let entry: TreeEntry | undefined;
  let walked = "";
  for (const [i, part] of parts.entries()) {
    const found = (await loadTree(source, tree)).entries.find((e) => e.name === part);
    walked += `/${part}`;
    if (!found) throw new SnapshotPathError(`${walked}: not in the snapshot`);
    entry = found;
    if (found.type === "dir") tree = found.subtree;
    else if (i < parts.length - 1) throw new SnapshotPathError(`${walked}: not a folder`);
  }
  return {
    path: walked || "/",
    entry,
    tree: entry === undefined ? root : entry.type === "dir" ? entry.subtree : undefined,
  };
}

/**
 * Every entry below the folder tree `tree`, depth first, a folder before its contents, names in
 * the tree's order; `prefix` is the folder's path (`/` for the root).
 *
 * @throws {UnsafeSnapshotError} for a loop or a limit passed; what `loadTree` throws.
 * @example
 * ```ts ignore
 * for await (const { path, entry } of walkTree(session, snapshot.record.tree)) console.log(path);
 * ```
 */
export async function* walkTree(
  source: BlobSource,
  tree: BlobId,
  prefix = "/",
  limits: WalkLimits = {},
): AsyncGenerator<WalkedEntry> {
  const guard = new PathGuard(limits);
  yield* walkBelow(source, tree, prefix, guard);
}

/**
 * Every entry below the folder tree `id`, as `walkTree`, counted by `guard`: a walk within a walk
 * (a diff's added or removed folder) shares its caller's guard.
 *
 * @throws {UnsafeSnapshotError} for a loop or a limit passed; what `loadTree` throws.
 */
export async function* walkBelow(
  source: BlobSource,
  id: BlobId,
  prefix: string,
  guard: PathGuard,
): AsyncGenerator<WalkedEntry> {
  const bytes = await source.get(id, "tree");
  guard.enter(id, bytes.length, prefix);
  try {
    const tree = decodeTree(bytes);
    guard.met(tree.entries.length, prefix);
    for (const entry of tree.entries) {
      const path = join(prefix, entry.name);
      yield { path, entry };
      if (entry.type === "dir") yield* walkBelow(source, entry.subtree, path, guard);
    }
  } finally {
    guard.leave(id, bytes.length);
  }
}

/** `name` in the folder `prefix` (`/` for the root). */
export function join(prefix: string, name: string): string {
  return prefix.endsWith("/") ? `${prefix}${name}` : `${prefix}/${name}`;
}

/**
 * The folders on the current path of one walk: loops, depth and bytes held, and entries met
 * (`walkTree`'s checks, for a walk of one's own: `enter` and `met` throw
 * {UnsafeSnapshotError}).
 */
export class PathGuard {
  readonly #onPath = new Set<string>();
  readonly #maxDepth: number;
  readonly #maxBytes: number;
  readonly #maxEntries: number;
  #bytes = 0;
  #entries = 0;

  /** @param limits see `WalkLimits` (defaults: the restorer's) */
  constructor(limits: WalkLimits) {
    this.#maxDepth = limits.maxDepth ?? DEFAULT_MAX_DEPTH;
    this.#maxBytes = limits.maxPathTreeBytes ?? DEFAULT_MAX_PATH_TREE_BYTES;
    this.#maxEntries = limits.maxEntries ?? DEFAULT_MAX_ENTRIES;
  }

  /** Counts the entries of a tree just read, against the walk's bound. */
  met(entries: number, path: string): void {
    this.#entries += entries;
    if (this.#entries > this.#maxEntries) {
      throw new UnsafeSnapshotError(path, `more than ${this.#maxEntries} entries in one walk`);
    }
  }

  /** The tree `id` (`bytes` encoded) is entered at `path`. */
  enter(id: string, bytes: number, path: string): void {
    if (this.#onPath.has(id)) {
      throw new UnsafeSnapshotError(path, "a folder that contains itself (a loop in the trees)");
    }
    if (this.#onPath.size >= this.#maxDepth + 1) {
      throw new UnsafeSnapshotError(path, `folders nested deeper than ${this.#maxDepth}`);
    }
    if (this.#bytes + bytes > this.#maxBytes) {
      throw new UnsafeSnapshotError(path, `more than ${this.#maxBytes} bytes of trees on one path`);
    }
    this.#onPath.add(id);
    this.#bytes += bytes;
  }

  /** The tree `id` entered with `bytes` is left. */
  leave(id: string, bytes: number): void {
    this.#onPath.delete(id);
    this.#bytes -= bytes;
  }
}
