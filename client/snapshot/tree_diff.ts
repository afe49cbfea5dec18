/**
 * The differences between two trees of snapshots, for `diff`, as restic's letters: a subtree whose
 * id is the same on both sides is skipped without being read (equal ids are equal contents). Both
 * sides are read under one `PathGuard` (`tree_walk.ts`), so a hostile server can neither loop a
 * diff nor make it hold unbounded memory.
 *
 * @module
 */
import { decodeTree, type TreeEntry } from "../../protocol/v3/tree.ts";
import type { BlobId, BlobSource } from "./blobs.ts";
import { join, PathGuard, walkBelow, type WalkLimits } from "./tree_walk.ts";

/** One difference between two trees (restic's letters). */
export interface TreeChange {
  /** `+` added, `-` removed, `M` content changed, `T` type changed, `U` metadata only. */
  change: "+" | "-" | "M" | "T" | "U";
  path: string;
  before?: TreeEntry;
  after?: TreeEntry;
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
