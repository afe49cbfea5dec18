/**
 * The walk behind `FolderStore.list` and `FolderStore.sweep`: folders read one at a time, each
 * sorted so that names come out in byte order, entries that are not objects set aside.
 *
 * @module
 */
import type { ObjectInfo } from "./object_store.ts";
import { UnsafeObjectError } from "./object_store.ts";

/** Temp files start with this; a name segment never starts with `.`, so no object can. */
export const TEMP_PREFIX = ".tmp-";

const SEGMENT_PATTERN = /^[a-z0-9_-][a-z0-9_.-]*$/;

/** What the walk does besides listing. */
export interface WalkOptions {
  /** Called once per folder read with the temp files in it, before its objects are listed. */
  onTemps?: (dir: string, names: string[]) => Promise<void>;
}

interface Entry {
  name: string;
  isDirectory: boolean;
  /** What the entry sorts by: its name, and a `/` after a folder's (as the names under it have). */
  key: string;
}

/**
 * Every object under `root` whose name starts with `prefix` (already checked), in byte order.
 * Memory holds the entries of the folders on the current path, never the whole tree.
 *
 * @throws {UnsafeObjectError} on a link or special file anywhere on the way.
 */
export async function* walkObjects(
  root: string,
  prefix: string,
  options: WalkOptions = {},
): AsyncGenerator<ObjectInfo> {
  const cut = prefix.lastIndexOf("/");
  const base = prefix.slice(0, cut + 1);
  let dir = root;
  for (const segment of base.split("/").slice(0, -1)) {
    dir = `${dir}/${segment}`;
    const info = await lstatOrUndefined(dir);
    if (!info || info.isFile) return; // no folder there, so no object under it
    if (!info.isDirectory) throw unsafe(dir, info);
  }
  yield* walkFolder(dir, base, prefix.slice(cut + 1), options);
}

async function* walkFolder(
  dir: string,
  namePrefix: string,
  partial: string,
  options: WalkOptions,
): AsyncGenerator<ObjectInfo> {
  const { entries, temps } = await readFolder(dir, partial);
  if (temps.length > 0) await options.onTemps?.(dir, temps);
  for (const entry of entries) {
    const path = `${dir}/${entry.name}`;
    const name = namePrefix + entry.name;
    if (entry.isDirectory) {
      yield* walkFolder(path, `${name}/`, "", options);
      continue;
    }
    const info = await lstatOrUndefined(path);
    if (!info || info.isDirectory) continue; // deleted or replaced since the folder was read
    if (!info.isFile) throw unsafe(path, info);
    yield { name, size: info.size };
  }
}

/** One folder's objects and subfolders whose names start with `partial`, sorted; and its temps. */
async function readFolder(
  dir: string,
  partial: string,
): Promise<{ entries: Entry[]; temps: string[] }> {
  const entries: Entry[] = [];
  const temps: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isSymlink || (!entry.isFile && !entry.isDirectory)) {
        throw new UnsafeObjectError(
          `${dir}/${entry.name} is a ${entry.isSymlink ? "symbolic link" : "special file"}`,
        );
      }
      if (entry.isFile && entry.name.startsWith(TEMP_PREFIX)) temps.push(entry.name);
      if (!SEGMENT_PATTERN.test(entry.name) || !entry.name.startsWith(partial)) continue;
      const key = entry.isDirectory ? `${entry.name}/` : entry.name;
      entries.push({ name: entry.name, isDirectory: entry.isDirectory, key });
    }
  } catch (error) {
    // A folder removed since its parent was read holds nothing.
    if (error instanceof Deno.errors.NotFound) return { entries: [], temps: [] };
    throw error;
  }
  // Names are ASCII: string order is byte order.
  entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { entries, temps };
}

/** `lstat`, or `undefined` if nothing is there. */
export async function lstatOrUndefined(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return undefined;
    }
    throw error;
  }
}

/** The error for a link or special file found at `path`. */
export function unsafe(path: string, info: Deno.FileInfo): UnsafeObjectError {
  const what = info.isSymlink ? "a symbolic link" : "a special file";
  return new UnsafeObjectError(`${path} is ${what}, expected a file or folder of the store`);
}
