/**
 * Writing what a server names only beneath the folder the user chose: every name is validated as
 * the server validates names, and each folder on the way is created or checked one at a time,
 * refusing a symbolic link or a file in the way, so that neither `..` nor a planted link can lead a
 * restore outside its target. (A local user racing the restore to swap a folder for a link between
 * the check and the write is outside what this guards.)
 *
 * @module
 */
import { BackupError } from "../common/backup_error.ts";
import { validateName } from "../protocol/names.ts";

/** A restore target that cannot be written safely: a link or a file where a folder should be. */
export class UnsafeTargetError extends BackupError {}

/**
 * The local path for the stored name `relative` beneath `target`, its folders made (as real
 * folders) if missing, and added to `created` if given (a restore gives stored metadata only to
 * the folders it made). `relative` is validated with the protocol's rules first.
 *
 * @throws {InvalidNameError} for a name the rules refuse; {UnsafeTargetError} for a link or a
 *   file in the way.
 * @example
 * ```ts
 * import { pathBeneath } from "./safe_paths.ts";
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * assert.equal(await pathBeneath(dir, "a/b/c.txt"), `${dir}/a/b/c.txt`);
 * assert.ok((await Deno.lstat(`${dir}/a/b`)).isDirectory);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function pathBeneath(
  target: string,
  relative: string,
  created?: Set<string>,
): Promise<string> {
  const components = validateName(new TextEncoder().encode(relative)).split("/");
  let dir = target;
  for (const component of components.slice(0, -1)) {
    dir = `${dir}/${component}`;
    if (await ensureRealFolder(dir)) created?.add(dir);
  }
  const path = `${dir}/${components.at(-1)}`;
  const existing = await Deno.lstat(path).catch(() => undefined);
  if (existing && !existing.isFile && !existing.isSymlink) {
    throw new UnsafeTargetError(`${path} exists and is not a file`);
  }
  return path;
}

/** Makes `dir` a folder if missing; refuses a link or a file in its place. True if it made it. */
async function ensureRealFolder(dir: string): Promise<boolean> {
  let made = false;
  let info = await Deno.lstat(dir).catch((error) => {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  });
  if (!info) {
    made = await Deno.mkdir(dir).then(() => true, (error) => {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
      return false;
    });
    info = await Deno.lstat(dir);
  }
  if (info.isSymlink) throw new UnsafeTargetError(`${dir} is a symbolic link: not followed`);
  if (!info.isDirectory) throw new UnsafeTargetError(`${dir} is in the way: not a folder`);
  return made;
}

/**
 * A name as it may be printed: characters that could move the cursor or reorder text (C1 controls,
 * bidirectional marks) written as `\u{…}`. Names validated by the protocol hold no C0 controls.
 */
export function printable(name: string): string {
  return name.replace(
    // deno-lint-ignore no-control-regex
    /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`,
  );
}
