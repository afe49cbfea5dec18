/**
 * The paths behind `FolderStore`: a name's folders made or found inside the root, each checked to
 * be a real folder (a link or special file in their place is refused, never followed), and an
 * object's file opened with the same checks and its handle's inode compared.
 *
 * @module
 */
import { ObjectNameConflictError, ObjectNotFoundError } from "./object_store.ts";
import { lstatOrUndefined, unsafe } from "./_folder_walk.ts";

/**
 * Makes the folders of a name, refusing anything but a folder in their place.
 *
 * @returns the object's folder, and the folders that got a new entry (to fsync).
 */
export async function makeFolders(
  root: string,
  name: string,
  segments: string[],
): Promise<{ dir: string; madeIn: string[] }> {
  let dir = root;
  const madeIn: string[] = [];
  for (const segment of segments) {
    const parent = dir;
    dir = `${dir}/${segment}`;
    try {
      await Deno.mkdir(dir);
      madeIn.push(parent);
      continue;
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    }
    const info = await Deno.lstat(dir);
    if (info.isDirectory) continue;
    if (info.isFile) {
      throw new ObjectNameConflictError(name, `${dir.slice(root.length + 1)} is an object`);
    }
    throw unsafe(dir, info);
  }
  return { dir, madeIn };
}

/**
 * The path of a name if all its folders exist as real folders, else `undefined`.
 *
 * @throws {UnsafeObjectError} if one of them is a link or special file.
 */
export async function existingPath(root: string, name: string): Promise<string | undefined> {
  const segments = name.split("/");
  let path = root;
  for (const segment of segments.slice(0, -1)) {
    path = `${path}/${segment}`;
    const info = await lstatOrUndefined(path);
    if (!info || info.isFile) return undefined;
    if (!info.isDirectory) throw unsafe(path, info);
  }
  return `${path}/${segments.at(-1)}`;
}

/** Opens an object's file, checked to be a regular file by `lstat` and by the open handle. */
export async function openObject(root: string, name: string): Promise<Deno.FsFile> {
  const path = await existingPath(root, name);
  const before = path === undefined ? undefined : await lstatOrUndefined(path);
  if (!before || before.isDirectory) throw new ObjectNotFoundError(name);
  if (!before.isFile) throw unsafe(path!, before);
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path!, { read: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new ObjectNotFoundError(name, { cause: error });
    }
    throw error;
  }
  try {
    const opened = await file.stat();
    if (!opened.isFile || opened.ino !== before.ino || opened.dev !== before.dev) {
      // Replaced between the lstat and the open: by a put (a file) or by a link (refused).
      const now = await lstatOrUndefined(path!);
      if (now && !now.isFile && !now.isDirectory) throw unsafe(path!, now);
      if (!opened.isFile) throw new ObjectNotFoundError(name);
    }
    return file;
  } catch (error) {
    file.close();
    throw error;
  }
}
