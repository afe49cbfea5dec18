/**
 * The paths of a run as one tree of absolute path components, as restic lays them out:
 * `/home/u/docs` and `/home/u/pics` give the root tree `home → u → {docs, pics}`. The folders on
 * the way (ancestors) carry their own metadata but only the children that lead to a path given;
 * a path given (a target) is walked whole. A path below another path given adds nothing.
 *
 * Also the scan that counts what the targets hold, beside the run, for progress totals.
 *
 * @module
 */
import { resolve } from "node:path";
import type { ArchiveEvent } from "./progress.ts";
import { kindOf, type WalkRules } from "./walk.ts";

/** One component of the paths given. */
export interface TargetNode {
  /** The component (`""` for the root `/`). */
  name: string;
  /** The absolute path. */
  path: string;
  /** Given as a path: walked whole (its children here are then empty). */
  target: boolean;
  children: Map<string, TargetNode>;
}

/**
 * The tree of `paths` (relative ones resolved against `cwd`; `.` and `..` folded as text, links
 * not followed).
 *
 * @example
 * ```ts
 * import { targetTree } from "./targets.ts";
 * import assert from "node:assert/strict";
 * const root = targetTree(["/home/u/docs", "/home/u/pics", "/home/u/docs/a"], "/");
 * const u = root.children.get("home")!.children.get("u")!;
 * assert.deepEqual([...u.children.keys()], ["docs", "pics"]);
 * assert.equal(u.children.get("docs")!.target, true);
 * assert.equal(u.children.get("docs")!.children.size, 0);
 * ```
 */
export function targetTree(paths: string[], cwd: string): TargetNode {
  const root: TargetNode = { name: "", path: "/", target: false, children: new Map() };
  for (const given of paths) {
    const parts = resolve(cwd, given).split("/").filter((part) => part !== "");
    let node = root;
    for (const part of parts) {
      if (node.target) break;
      let child = node.children.get(part);
      if (!child) {
        const path = node.path === "/" ? `/${part}` : `${node.path}/${part}`;
        child = { name: part, path, target: false, children: new Map() };
        node.children.set(part, child);
      }
      node = child;
    }
    if (!node.target) {
      node.target = true;
      node.children.clear(); // paths given below it are inside it
    }
  }
  return root;
}

/** The children of `node` in the walk's order (names compared as strings). */
export function sortedChildren(node: TargetNode): TargetNode[] {
  return [...node.children.values()].sort((
    a,
    b,
  ) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Entries counted between two `totals` events of the scan. */
const TOTALS_EVERY = 1000;

/**
 * Counts the files, folders and file bytes under `root` with the run's rules, emitting `totals`
 * events as it goes and a last one with `complete: true`. Stops early once `stop.stopped` is set.
 */
export async function scanTotals(
  root: TargetNode,
  rules: WalkRules,
  stop: { stopped: boolean },
  emit: (event: ArchiveEvent) => void,
): Promise<void> {
  const totals = { files: 0, dirs: 0, bytes: 0, seen: 0 };
  const tick = () => {
    if (++totals.seen % TOTALS_EVERY === 0) {
      emit({ type: "totals", ...counts(), complete: false });
    }
  };
  const counts = () => ({ files: totals.files, dirs: totals.dirs, bytes: totals.bytes });

  const walk = async (path: string, relative: string, device: number | undefined) => {
    if (stop.stopped || (relative !== "" && rules.excludedByName(relative))) return;
    let info: Deno.FileInfo;
    try {
      info = await Deno.lstat(path);
    } catch {
      return; // the run reports it
    }
    const kind = kindOf(info);
    tick();
    if (kind === "file") {
      totals.files++;
      totals.bytes += info.size;
    } else if (kind === "dir") {
      if (await rules.excludedFolder(path)) return;
      totals.dirs++;
      if (rules.oneFileSystem && device !== undefined && info.dev !== device) return;
      let names: string[];
      try {
        names = (await Array.fromAsync(Deno.readDir(path))).map((entry) => entry.name);
      } catch {
        return;
      }
      for (const name of names) {
        const below = relative === "" ? name : `${relative}/${name}`;
        await walk(path === "/" ? `/${name}` : `${path}/${name}`, below, device ?? info.dev);
      }
    }
  };
  const visit = async (node: TargetNode) => {
    if (node.target) return walk(node.path, "", undefined);
    if (node.path !== "/") totals.dirs++;
    for (const child of sortedChildren(node)) await visit(child);
  };
  await visit(root);
  if (!stop.stopped) emit({ type: "totals", ...counts(), complete: true });
}
