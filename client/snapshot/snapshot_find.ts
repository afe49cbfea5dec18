/**
 * `find PATTERN`: entries of snapshots whose name (or, for a pattern with a `/`, whose path)
 * matches a glob, as restic's `find`. `*` and `?` stay within one component, `[abc]` is a class
 * (`[!abc]` its complement), `**` in a path pattern spans whole components; matching is
 * case-sensitive unless asked otherwise.
 *
 * Snapshots of one source share most of their trees. As restic's `find`, a subtree searched
 * without a match is not searched again in a later snapshot where it is at the same path (the
 * same tree at the same path holds the same paths); one with a match is, to list it for each
 * snapshot. Such subtrees are remembered up to `MAX_BARREN_SUBTREES` (then searched again).
 *
 * @module
 */
import { decodeTree, type TreeEntry } from "../../protocol/v3/tree.ts";
import type { BlobId, BlobSource } from "./blobs.ts";
import type { SnapshotInfo } from "./snapshot_select.ts";
import { join, PathGuard, type WalkLimits } from "./tree_walk.ts";
import { globComponentSource } from "../glob_component.ts";

/** Subtrees (id and path) searched without a match that one `find` remembers at most. */
export const MAX_BARREN_SUBTREES = 100_000;

/** One match. */
export interface FoundEntry {
  snapshot: SnapshotInfo;
  path: string;
  entry: TreeEntry;
}

/**
 * A test for `pattern`: against the name for a pattern without `/`, against the whole path (from
 * the snapshot's root) for one with `/` (a pattern not starting with `/` may match from any folder).
 *
 * @example
 * ```ts
 * import { findMatcher } from "./snapshot_find.ts";
 * import assert from "node:assert/strict";
 * assert.ok(findMatcher("*.txt")("/home/u/a.txt"));
 * assert.ok(!findMatcher("*.txt")("/home/u/a.txt.gz"));
 * assert.ok(findMatcher("u/**\/*.txt")("/home/u/docs/old/a.txt"));
 * ```
 */
export function findMatcher(pattern: string, ignoreCase = false): (path: string) => boolean {
  const flags = ignoreCase ? "iu" : "u";
  if (!pattern.includes("/")) {
    const name = new RegExp(`^${globComponentSource(pattern)}$`, flags);
    return (path) => name.test(path.slice(path.lastIndexOf("/") + 1));
  }
  const parts = pattern.split("/").filter((part) => part !== "");
  const body = parts.map((part) => part === "**" ? "(?:[^/]+/)*" : `${globComponentSource(part)}/`)
    .join("");
  // The last component has no slash after it; `**/` may stand for no folders at all.
  const source = (pattern.startsWith("/") ? "^/" : "(?:^|/)") + body.replace(/\/$/, "") + "$";
  const whole = new RegExp(source.replace("(?:[^/]+/)*$", "(?:[^/]+/?)*$"), flags);
  return (path) => whole.test(path);
}

/**
 * Every entry of `snapshots` (each walked depth first, one after the other) that `match` accepts;
 * a subtree already searched without a match at the same path is skipped (see the module comment).
 *
 * @throws {UnsafeSnapshotError} for a loop or a limit passed; what the source throws.
 */
export async function* findInSnapshots(
  source: BlobSource,
  snapshots: SnapshotInfo[],
  match: (path: string) => boolean,
  limits: WalkLimits = {},
): AsyncGenerator<FoundEntry> {
  const search = { source, match, barren: new Set<string>() };
  for (const snapshot of snapshots) {
    const guard = new PathGuard(limits);
    yield* searchBelow(search, snapshot, guard, snapshot.record.tree, "/");
  }
}

interface Search {
  source: BlobSource;
  match: (path: string) => boolean;
  /** `ID PATH` of subtrees searched without a match. */
  barren: Set<string>;
}

/** The matches in the tree `id` at `prefix`; returns whether there was one. */
async function* searchBelow(
  search: Search,
  snapshot: SnapshotInfo,
  guard: PathGuard,
  id: BlobId,
  prefix: string,
): AsyncGenerator<FoundEntry, boolean> {
  const key = `${id} ${prefix}`;
  if (search.barren.has(key)) return false;
  const bytes = await search.source.get(id, "tree");
  guard.enter(id, bytes.length, prefix);
  let found = false;
  try {
    const tree = decodeTree(bytes);
    guard.met(tree.entries.length, prefix);
    for (const entry of tree.entries) {
      const path = join(prefix, entry.name);
      if (search.match(path)) {
        found = true;
        yield { snapshot, path, entry };
      }
      if (
        entry.type === "dir" && (yield* searchBelow(search, snapshot, guard, entry.subtree, path))
      ) {
        found = true;
      }
    }
  } finally {
    guard.leave(id, bytes.length);
  }
  if (!found && search.barren.size < MAX_BARREN_SUBTREES) search.barren.add(key);
  return found;
}
