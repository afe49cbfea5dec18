/**
 * `find PATTERN`: entries of snapshots whose name (or, for a pattern with a `/`, whose path)
 * matches a glob, as restic's `find`. `*` and `?` stay within one component, `[abc]` is a class
 * (`[!abc]` its complement), `**` in a path pattern spans whole components; matching is
 * case-sensitive unless asked otherwise.
 *
 * @module
 */
import type { TreeEntry } from "../../protocol/v3/tree.ts";
import type { BlobSource } from "./blobs.ts";
import type { SnapshotInfo } from "./snapshot_select.ts";
import { type WalkLimits, walkTree } from "./tree_walk.ts";
import { globComponentSource } from "../glob_component.ts";

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
 * Every entry of `snapshots` (each walked depth first, one after the other) that `match` accepts.
 *
 * @throws what `walkTree` throws.
 */
export async function* findInSnapshots(
  source: BlobSource,
  snapshots: SnapshotInfo[],
  match: (path: string) => boolean,
  limits: WalkLimits = {},
): AsyncGenerator<FoundEntry> {
  for (const snapshot of snapshots) {
    for await (const { path, entry } of walkTree(source, snapshot.record.tree, "/", limits)) {
      if (match(path)) yield { snapshot, path, entry };
    }
  }
}
