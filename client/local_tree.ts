/**
 * The local files a backup plans to send: files named on the command line, and every regular file
 * under a folder, each with the name it is stored under. What cannot be sent (links, special files,
 * unreadable folders, names the protocol refuses) is reported, not fatal.
 *
 * @module
 */
import { encodeName } from "../protocol/names.ts";
import { globComponentSource } from "./glob_component.ts";

/** One local file and the name it is stored under. */
export interface PlannedFile {
  path: string;
  name: string;
  /** A symbolic link, stored as one (its target), never followed. */
  link?: boolean;
  /** An empty folder, stored as its marker (`FOLDER_MARKER`): `path` is the folder. */
  folder?: boolean;
  /** The name the server gets, when it differs from `name` (sealed names). */
  stored?: string;
}

/** Something left out of the plan, and why. */
export interface Skipped {
  path: string;
  /** The name it would have been stored under. */
  name: string;
  reason: string;
}

/**
 * The name of the empty file that stands for an empty folder (protocol version 2): the index
 * holds files only, so `a/empty/` is kept as `a/empty/.backup-folder`, with the folder's mode and
 * time, and restored as the folder. Lists show it as `a/empty/`.
 */
export const FOLDER_MARKER = ".backup-folder";

/** The folder a stored name stands for if it is a folder's marker (`a/b/` for `a/b/.backup-folder`). */
export function folderOfMarker(name: string): string | undefined {
  return name === FOLDER_MARKER || name.endsWith(`/${FOLDER_MARKER}`)
    ? name.slice(0, -FOLDER_MARKER.length)
    : undefined;
}

/** Folders and files to back up, each with the name it is stored under. */
export interface TreePlan {
  files: PlannedFile[];
  skipped: Skipped[];
  /** Stored names of what `--exclude` left out (a mirroring backup does not delete them). */
  excluded: string[];
}

/**
 * Tells whether a path is excluded: `relative` is its path below the folder named on the command
 * line (`""` for that folder itself).
 */
export type ExcludeTest = (relative: string) => boolean;

/**
 * Patterns as rsync and tar users write them: `*` any run of characters but `/`, `**` any run,
 * `?` one character but `/`, `[abc]` and `[!abc]` classes, `\` escapes the next character (the
 * component syntax of `restore --include` and `find`, `glob_component.ts`); a pattern without `/`
 * matches any path's last component, one with `/` the whole path below the folder named (a leading
 * `/` anchors it there; a trailing `/` is dropped).
 *
 * @example
 * ```ts
 * import { excludeTest } from "./local_tree.ts";
 * import assert from "node:assert/strict";
 * const excluded = excludeTest(["*.tmp", "cache/**", "/build"]);
 * assert.equal(excluded("a/b/x.tmp"), true);
 * assert.equal(excluded("cache/deep/file"), true);
 * assert.equal(excluded("build"), true);
 * assert.equal(excluded("src/build"), false);
 * const classes = excludeTest(["core.[0-9]*", "\\*literal"]);
 * assert.equal(classes("x/core.123"), true);
 * assert.equal(classes("x/core.abc"), false);
 * assert.equal(classes("*literal"), true);
 * assert.equal(classes("aliteral"), false);
 * ```
 */
export function excludeTest(patterns: string[]): ExcludeTest {
  const tests = patterns.map((pattern) => {
    const trimmed = pattern.replace(/\/+$/, "");
    const whole = trimmed.includes("/");
    const regex = new RegExp(`^${globToRegex(trimmed.replace(/^\//, ""))}$`);
    return (relative: string) =>
      whole ? regex.test(relative) : regex.test(relative.slice(relative.lastIndexOf("/") + 1));
  });
  return (relative) => relative !== "" && tests.some((test) => test(relative));
}

// `**` spans folders; between them, the component syntax `restore --include` and `find` use.
function globToRegex(glob: string): string {
  return glob.split("**").map(globComponentSource).join(".*");
}

/** How a tree is walked. */
export interface WalkOptions {
  /** Leave out what this says. */
  excluded?: ExcludeTest;
  /** Plan symbolic links as links, and empty folders as markers (protocol version 2); else skip. */
  links?: boolean;
}

/** Adds `path` (a file, or a folder walked recursively) under the stored name `name`. */
export async function planTree(
  path: string,
  name: string,
  plan: TreePlan,
  options: WalkOptions = {},
  relative = "",
): Promise<void> {
  const excluded = options.excluded ?? (() => false);
  if (excluded(relative)) {
    plan.excluded.push(name);
    return;
  }
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (error) {
    plan.skipped.push({ path, name, reason: reasonOf(error) });
    return;
  }
  if (info.isSymlink && options.links) {
    const refused = nameProblem(name);
    if (refused) plan.skipped.push({ path, name, reason: refused });
    else plan.files.push({ path, name, link: true });
  } else if (info.isSymlink) {
    plan.skipped.push({ path, name, reason: "a symbolic link (protocol version 1 stores none)" });
  } else if (info.isFile) {
    const refused = nameProblem(name);
    if (refused) plan.skipped.push({ path, name, reason: refused });
    else plan.files.push({ path, name });
  } else if (info.isDirectory) {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(path));
    } catch (error) {
      plan.skipped.push({ path, name, reason: reasonOf(error) });
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    if (entries.length === 0 && options.links) {
      plan.files.push({ path, name: `${name}/${FOLDER_MARKER}`, folder: true });
    }
    for (const entry of entries) {
      const below = relative ? `${relative}/${entry.name}` : entry.name;
      await planTree(`${path}/${entry.name}`, `${name}/${entry.name}`, plan, options, below);
    }
  } else {
    plan.skipped.push({ path, name, reason: "not a regular file or folder" });
  }
}

function nameProblem(name: string): string | undefined {
  try {
    encodeName(name);
    return undefined;
  } catch (error) {
    return `its name cannot be stored: ${(error as Error).message}`;
  }
}

function reasonOf(error: unknown): string {
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (error instanceof Deno.errors.NotFound) return "no such file or folder";
  return error instanceof Error ? error.message : String(error);
}
