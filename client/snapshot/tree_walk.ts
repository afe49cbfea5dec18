/**
 * Reading a snapshot's trees through a `BlobSource`, for `ls`, `find`, `diff` and `dump`: a
 * depth-first walk that holds one tree per folder on the current path (never the whole snapshot),
 * the entry at a path, the differences between two trees (a subtree whose id is the same on both
 * sides is skipped without being read: equal ids are equal contents), and a file's bytes in order.
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

/** One difference between two trees (restic's letters). */
export interface TreeChange {
  /** `+` added, `-` removed, `M` content changed, `T` type changed, `U` metadata only. */
  change: "+" | "-" | "M" | "T" | "U";
  path: string;
  before?: TreeEntry;
  after?: TreeEntry;
}

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

async function* walkBelow(
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

/**
 * The differences between the folder trees `before` and `after`, depth first in name order. A
 * folder whose subtree id is the same on both sides is not read; an added or removed folder is
 * listed with everything in it.
 *
 * @throws {UnsafeSnapshotError} for a loop or a limit passed; what `loadTree` throws.
 */
export async function* diffTrees(
  source: BlobSource,
  before: BlobId,
  after: BlobId,
  prefix = "/",
  limits: WalkLimits = {},
): AsyncGenerator<TreeChange> {
  yield* diffBelow(source, before, after, prefix, new PathGuard(limits));
}

async function* diffBelow(
  source: BlobSource,
  beforeId: BlobId,
  afterId: BlobId,
  prefix: string,
  guard: PathGuard,
): AsyncGenerator<TreeChange> {
  if (beforeId === afterId) return;
  const [beforeBytes, afterBytes] = await Promise.all([
    source.get(beforeId, "tree"),
    source.get(afterId, "tree"),
  ]);
  const held = beforeBytes.length + afterBytes.length;
  // Both sides' ids go on the path: a loop on either side is caught.
  guard.enter(`${beforeId}/${afterId}`, held, prefix);
  try {
    const a = new Map(decodeTree(beforeBytes).entries.map((e) => [e.name, e]));
    const b = new Map(decodeTree(afterBytes).entries.map((e) => [e.name, e]));
    guard.met(a.size + b.size, prefix);
    const names = [...new Set([...a.keys(), ...b.keys()])].sort(compareNames);
    for (const name of names) {
      const old = a.get(name);
      const now = b.get(name);
      const path = join(prefix, name);
      if (!now) yield* listAll(source, "-", old!, path, guard);
      else if (!old) yield* listAll(source, "+", now, path, guard);
      else if (old.type !== now.type) {
        yield { change: "T", path, before: old, after: now };
        if (old.type === "dir") yield* listBelow(source, "-", old.subtree, path, guard);
        if (now.type === "dir") yield* listBelow(source, "+", now.subtree, path, guard);
      } else {
        if (!sameContent(old, now)) yield { change: "M", path, before: old, after: now };
        else if (!sameMetadata(old, now)) yield { change: "U", path, before: old, after: now };
        if (old.type === "dir" && now.type === "dir") {
          yield* diffBelow(source, old.subtree, now.subtree, path, guard);
        }
      }
    }
  } finally {
    guard.leave(`${beforeId}/${afterId}`, held);
  }
}

async function* listAll(
  source: BlobSource,
  change: "+" | "-",
  entry: TreeEntry,
  path: string,
  guard: PathGuard,
): AsyncGenerator<TreeChange> {
  yield change === "+" ? { change, path, after: entry } : { change, path, before: entry };
  if (entry.type === "dir") yield* listBelow(source, change, entry.subtree, path, guard);
}

async function* listBelow(
  source: BlobSource,
  change: "+" | "-",
  tree: BlobId,
  path: string,
  guard: PathGuard,
): AsyncGenerator<TreeChange> {
  for await (const walked of walkBelow(source, tree, path, guard)) {
    yield change === "+"
      ? { change, path: walked.path, after: walked.entry }
      : { change, path: walked.path, before: walked.entry };
  }
}

/** Chunks fetched ahead of the one being written, by default. */
export const DEFAULT_READ_AHEAD = 4;

/**
 * Writes a file's bytes in order to `write`, fetching up to `readAhead` chunks at once (memory:
 * that many chunks, 8 MiB each at most).
 *
 * @throws {SnapshotPathError} if the chunks do not add up to the entry's size (nothing more is
 *   written after the chunk that breaks it); what the source throws.
 */
export async function readFile(
  source: BlobSource,
  entry: TreeEntry,
  write: (bytes: Uint8Array) => Promise<void>,
  readAhead = DEFAULT_READ_AHEAD,
): Promise<number> {
  if (entry.type !== "file") {
    throw new SnapshotPathError(`${entry.name}: a ${entry.type === "dir" ? "folder" : "link"}`);
  }
  const pending: Promise<Uint8Array>[] = [];
  let next = 0;
  let written = 0;
  const fill = () => {
    while (next < entry.content.length && pending.length < readAhead) {
      const got = source.get(entry.content[next++], "data");
      got.catch(() => {}); // awaited in order below; a later failure must not go unhandled
      pending.push(got);
    }
  };
  fill();
  while (pending.length > 0) {
    const bytes = await pending.shift()!;
    fill();
    written += bytes.length;
    if (written > entry.size) break;
    await write(bytes);
  }
  if (written !== entry.size) {
    throw new SnapshotPathError(
      `${entry.name}: its chunks hold ${written > entry.size ? "more" : written} bytes, ` +
        `not the ${entry.size} its entry says`,
    );
  }
  return written;
}

/** Whether two entries of one type hold the same content (chunks, or link target). */
function sameContent(a: TreeEntry, b: TreeEntry): boolean {
  if (a.type === "file" && b.type === "file") {
    return a.size === b.size && a.content.length === b.content.length &&
      a.content.every((id, i) => id === b.content[i]);
  }
  if (a.type === "symlink" && b.type === "symlink") return a.target === b.target;
  return true; // folders: their contents are compared entry by entry
}

/** Whether the metadata a restore would give is the same (access and change times aside). */
function sameMetadata(a: TreeEntry, b: TreeEntry): boolean {
  return a.mode === b.mode && a.mtimeMs === b.mtimeMs && a.uid === b.uid && a.gid === b.gid &&
    a.user === b.user && a.group === b.group;
}

const encoder = new TextEncoder();

/** The trees' order: the UTF-8 bytes of names. */
function compareNames(a: string, b: string): number {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  const length = Math.min(x.length, y.length);
  for (let i = 0; i < length; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
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
