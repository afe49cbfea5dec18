/**
 * The local files a backup plans to send: files named on the command line, and every regular file
 * under a folder, each with the name it is stored under. What cannot be sent (links, special files,
 * unreadable folders, names the protocol refuses) is reported, not fatal.
 *
 * @module
 */
import { encodeName } from "../protocol/names.ts";

/** One local file and the name it is stored under. */
export interface PlannedFile {
  path: string;
  name: string;
}

/** Something left out of the plan, and why. */
export interface Skipped {
  path: string;
  reason: string;
}

/** Folders and files to back up, each with the name it is stored under. */
export interface TreePlan {
  files: PlannedFile[];
  skipped: Skipped[];
}

/** Adds `path` (a file, or a folder walked recursively) under the stored name `name`. */
export async function planTree(path: string, name: string, plan: TreePlan): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (error) {
    plan.skipped.push({ path, reason: reasonOf(error) });
    return;
  }
  if (info.isSymlink) {
    plan.skipped.push({ path, reason: "a symbolic link (not followed)" });
  } else if (info.isFile) {
    const refused = nameProblem(name);
    if (refused) plan.skipped.push({ path, reason: refused });
    else plan.files.push({ path, name });
  } else if (info.isDirectory) {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(path));
    } catch (error) {
      plan.skipped.push({ path, reason: reasonOf(error) });
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      await planTree(`${path}/${entry.name}`, `${name}/${entry.name}`, plan);
    }
  } else {
    plan.skipped.push({ path, reason: "not a regular file or folder" });
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
