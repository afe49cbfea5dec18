import type { FileClient } from "../client/file_client.ts";
import { FileNotFoundError } from "../protocol/errors.ts";
import { createProgress, formatBytes } from "./progress.ts";
import { UsageError } from "./usage_error.ts";

/** Writes results for people or, with `--json`, for scripts. */
export class Output {
  /**
   * @param json one JSON object per result on stdout
   * @param quiet no notes or progress on stderr
   */
  constructor(readonly json: boolean, readonly quiet: boolean) {}

  /** A result: a JSON line, or the human text on stdout. */
  result(fields: Record<string, unknown>, human: string): void {
    console.log(this.json ? JSON.stringify({ ok: true, ...fields }) : human);
  }

  /** A side note for people, on stderr. */
  note(text: string): void {
    if (!this.quiet && !this.json) console.error(text);
  }
}

/** The last component of a path, `/` or `\` separated. */
export function baseName(path: string): string {
  return path.replace(/[\\/]+$/, "").split(/[\\/]/).at(-1) ?? path;
}

/** One local file and the name it is stored under. */
interface Planned {
  file: string;
  name: string;
}

/** Every regular file under `dir`, with its name under `prefix`. Links are skipped. */
async function filesIn(dir: string, prefix: string, out: Planned[]): Promise<void> {
  const entries = await Array.fromAsync(Deno.readDir(dir));
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const path = `${dir}/${entry.name}`;
    if (entry.isFile) out.push({ file: path, name: `${prefix}/${entry.name}` });
    else if (entry.isDirectory) await filesIn(path, `${prefix}/${entry.name}`, out);
  }
}

/** Backs up files and folders (recursively), each under its base name or `as`. */
export async function backupPaths(
  client: FileClient,
  paths: string[],
  as: string | undefined,
  output: Output,
): Promise<void> {
  const planned: Planned[] = [];
  for (const path of paths) {
    const info = await Deno.stat(path);
    const name = as ?? baseName(path);
    if (info.isDirectory) await filesIn(path.replace(/[\\/]+$/, ""), name, planned);
    else if (info.isFile) planned.push({ file: path, name });
    else throw new UsageError(`${path} is neither a file nor a folder`);
  }
  const seen = new Set<string>();
  for (const { name } of planned) {
    if (seen.has(name)) throw new UsageError(`two files would be stored as "${name}"`);
    seen.add(name);
  }
  if (planned.length === 0) output.note("nothing to back up: the folders hold no files");
  for (const { file, name } of planned) {
    const progress = createProgress(name, output.quiet);
    let size;
    try {
      size = await client.backupFile(name, file, { onProgress: progress.update });
    } finally {
      progress.finish();
    }
    output.result(
      { op: "backup", user: client.userId, file, name, size },
      `backed up ${file} as ${name} (${formatBytes(size)})`,
    );
  }
}

/**
 * Restores one file, or every file under a prefix (a NAME ending in `/`, or one the server holds only
 * as a folder) into a local folder.
 */
export async function restore(
  client: FileClient,
  name: string,
  outputPath: string | undefined,
  force: boolean,
  output: Output,
): Promise<void> {
  if (!name.endsWith("/")) {
    try {
      await restoreOne(client, name, outputPath ?? baseName(name), force, output);
      return;
    } catch (error) {
      const isFolder = error instanceof FileNotFoundError &&
        (await client.list()).some((stored) => stored.startsWith(`${name}/`));
      if (!isFolder) throw error;
    }
  }
  const prefix = name.replace(/\/+$/, "") + "/";
  const names = (await client.list()).filter((stored) => stored.startsWith(prefix));
  if (names.length === 0) throw new FileNotFoundError(prefix);
  const target = outputPath ?? baseName(prefix);
  const targets = names.map((stored) => `${target}/${stored.slice(prefix.length)}`);
  if (!force) {
    for (const path of targets) {
      if (await exists(path)) {
        throw new UsageError(`${path} exists: pass --force to replace it, or -o another folder`);
      }
    }
  }
  for (const [i, stored] of names.entries()) {
    const path = targets[i];
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    await restoreOne(client, stored, path, true, output);
  }
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

async function restoreOne(
  client: FileClient,
  name: string,
  path: string,
  force: boolean,
  output: Output,
): Promise<void> {
  if (!force && await exists(path)) {
    throw new UsageError(`${path} exists: pass --force to replace it, or -o another path`);
  }
  const progress = createProgress(name, output.quiet);
  let size;
  try {
    size = await client.retrieveToFile(name, path, { onProgress: progress.update });
  } finally {
    progress.finish();
  }
  output.result(
    { op: "restore", user: client.userId, name, path, size },
    `restored ${name} to ${path} (${formatBytes(size)})`,
  );
}

/** Lists stored names, only those starting with `prefix` if given. */
export async function list(
  client: FileClient,
  prefix: string | undefined,
  output: Output,
): Promise<void> {
  const names = (await client.list()).filter((name) => !prefix || name.startsWith(prefix));
  if (output.json) output.result({ op: "list", user: client.userId, files: names }, "");
  else if (names.length > 0) console.log(names.join("\n"));
  else output.note(`no files stored for user ${client.userId}${prefix ? ` under ${prefix}` : ""}`);
}
