/**
 * `backup PATH...`: plans the files, skips those the server already has (protocol version 2: same
 * size and modification time, or with `--checksum` the same SHA-256), sends the rest, and goes on
 * past files that cannot be sent, reporting them and counting them in the summary.
 *
 * @module
 */
import { basename, isAbsolute, relative, resolve, sep } from "node:path";
import type { SourceRecord } from "../client/source_record.ts";
import type { NameCipher } from "../client/encryption/names.ts";
import { BackupClientV2 } from "../client/backup_client_v2.ts";
import type { FileClient } from "../client/file_client.ts";
import { excludeTest, type PlannedFile, planTree, type TreePlan } from "../client/local_tree.ts";
import { type UserKey } from "../client/encryption/seal.ts";
import { FOLDER_META_SIZE, plainSize } from "../client/encryption/format.ts";
import { printable } from "../client/safe_paths.ts";
import type { VersionInfo } from "../protocol/v2/responses.ts";
import { DeferredOutput, type Output } from "./client_commands.ts";
import { isPerFileFailure, sendFile, sendLink, unchanged } from "./client_send.ts";
import { SealedProbe } from "./sealed_probe.ts";
import type { ClientPool } from "../client/client_pool.ts";
import { formatBytes } from "./progress.ts";
import { UsageError } from "./flags.ts";

/** What `backup` was asked to do besides the paths. */
export interface BackupFlags {
  /** The name to store a single PATH under. */
  as?: string;
  /** Compare SHA-256 digests, not size and time, to tell unchanged files. */
  checksum?: boolean;
  /** Say what would be sent, send nothing. */
  dryRun?: boolean;
  /** Patterns of paths to leave out (see `excludeTest`). */
  exclude?: string[];
  /** Delete from the server what is no longer here (it becomes a past version). */
  mirror?: boolean;
  /** Store each PATH under its path relative to this folder (not its own name). */
  base?: string;
  /** Store under this name even if it holds another folder's files (a deliberate merge). */
  into?: string;
  /** Which folder each top-level name came from (see `SourceRecord`); none: not checked. */
  sources?: SourceRecord;
  /** Seal every file's bytes with this key before they leave (see `client/encryption/`). */
  seal?: UserKey;
  /** Seal names too (`--encrypt-names`). */
  names?: NameCipher;
  /** Replace what the server holds sealed with plain copies (no `--encrypt`). */
  force?: boolean;
}

/** The name a PATH is stored under (`--as`, `--into`, `--base`, or its own name). */
export function storedNameOf(path: string, flags: BackupFlags): string {
  if (flags.as ?? flags.into) return (flags.as ?? flags.into)!;
  if (flags.base !== undefined) {
    const below = relative(resolve(flags.base), resolve(path));
    if (below === "" || below.startsWith("..") || isAbsolute(below)) {
      throw new UsageError(`${path} is not inside --base ${flags.base}`);
    }
    return below.split(sep).join("/");
  }
  // `.` and `dir/` are stored under the folder's own name.
  return basename(resolve(path));
}

/** How a backup went, file by file. */
export interface BackupSummary {
  uploaded: number;
  /** Stored files no longer here, deleted with `--delete`. */
  deleted: number;
  unchanged: number;
  /** Links and special files, left out by design. */
  skipped: number;
  /** Files that could not be read or stored. */
  failed: number;
}

/** Backs up `paths`; resolves the summary (failures were reported on the way). */
export async function backupPaths(
  pool: ClientPool,
  client: FileClient,
  paths: string[],
  flags: BackupFlags,
  output: Output,
): Promise<BackupSummary> {
  for (const path of paths) {
    // What the command line names must exist: a typo is a usage error before anything is sent.
    await Deno.lstat(path).catch((error) => {
      if (error instanceof Deno.errors.NotFound) throw new UsageError(`${path} does not exist`);
      throw error;
    });
  }
  if (flags.mirror && !(client instanceof BackupClientV2)) {
    throw new UsageError("--delete needs protocol version 2 (a key: see keygen)");
  }
  const plan: TreePlan = { files: [], skipped: [], excluded: [] };
  const excluded = excludeTest(flags.exclude ?? []);
  for (const path of paths) {
    const name = storedNameOf(path, flags);
    // A folder's name on the server belongs to one local folder (a file's is just replaced).
    if ((await Deno.lstat(path)).isDirectory) {
      const source = resolve(path);
      const known = flags.sources?.sourceOf(name);
      if (known !== undefined && known !== source && flags.into === undefined) {
        throw new UsageError(
          `${name} holds the files of ${known}; to store ${source} there as well, pass ` +
            `--into ${name}, or choose another name (--as, --base)`,
        );
      }
      // A deliberate merge (--into) leaves the name's first folder on record.
      if (known === undefined) flags.sources?.set(name, source);
    }
    await planTree(path, name, plan, { excluded, links: client instanceof BackupClientV2 });
  }
  const seen = new Map<string, string>();
  for (const { path, name } of plan.files) {
    const other = seen.get(name);
    if (other) throw new UsageError(`${other} and ${path} would both be stored as "${name}"`);
    seen.set(name, path);
  }
  const summary: BackupSummary = { uploaded: 0, unchanged: 0, deleted: 0, skipped: 0, failed: 0 };
  for (const { path, reason } of plan.skipped) {
    const failure = !/symbolic link|not a regular file/.test(reason);
    if (failure) summary.failed++;
    else summary.skipped++;
    output.warn(`${failure ? "not backed up" : "skipped"}: ${printable(path)}: ${reason}`);
  }
  if (flags.names) {
    const sealable = [];
    for (const file of plan.files) {
      try {
        file.stored = await flags.names.seal(file.name);
        sealable.push(file);
      } catch (error) {
        summary.failed++;
        output.warn(`not backed up: ${printable(file.path)}: ${(error as Error).message}`);
      }
    }
    plan.files = sealable;
  }
  // Without --encrypt, one look per run at whether the server's copies are sealed.
  const probe = !flags.seal && !flags.force && client instanceof BackupClientV2
    ? new SealedProbe()
    : undefined;
  const { stored, gone } = await storedVersions(client, paths, flags, plan, probe);
  // Each file's lines are printed in plan order once it is done, whichever connection sent it;
  // progress lines only when one file moves at a time.
  const parallel = Math.min(pool.size, plan.files.length) > 1;
  await pool.run(
    plan.files,
    async (worker, file) => {
      const lines = new DeferredOutput(output, output.quiet || parallel);
      const outcome = await backupOne(
        worker,
        file,
        stored.get(file.stored ?? file.name),
        flags,
        lines,
        probe,
      );
      return { outcome, lines };
    },
    (_, { outcome, lines }) => {
      lines.flush();
      summary[outcome]++;
    },
  );
  if (flags.mirror) {
    for (const storedName of gone) {
      if (!flags.dryRun) await client.delete(storedName);
      summary.deleted++;
      const name = (await flags.names?.open(storedName)) ?? storedName;
      output.result(
        { op: "delete", user: client.userId, name, dryRun: flags.dryRun || undefined },
        `${flags.dryRun ? "would delete" : "deleted"} ${printable(name)} (no longer here)`,
      );
    }
  }
  // A dry run did nothing: its counts say what would be done.
  const [upload, del] = flags.dryRun ? ["would upload", "would delete"] : ["uploaded", "deleted"];
  const deleted = flags.mirror ? `, ${del} ${summary.deleted}` : "";
  if (!flags.dryRun) await flags.sources?.save();
  const line = `${upload} ${summary.uploaded}, unchanged ${summary.unchanged}${deleted}, skipped ` +
    `${summary.skipped}${summary.skipped ? " (see above)" : ""}, failed ${summary.failed}`;
  const dryRun = flags.dryRun || undefined;
  output.result({ op: "backup", user: client.userId, summary, dryRun }, line);
  return summary;
}

/**
 * What the server holds of the planned names, and the stored names under the planned folders
 * that are no longer here (version 2 only; version 1 cannot say).
 */
async function storedVersions(
  client: FileClient,
  paths: string[],
  flags: BackupFlags,
  plan: TreePlan,
  probe?: SealedProbe,
): Promise<{ stored: Map<string, VersionInfo>; gone: string[] }> {
  const stored = new Map<string, VersionInfo>();
  const gone: string[] = [];
  if (!(client instanceof BackupClientV2)) return { stored, gone };
  const seal = (name: string) => flags.names?.seal(name) ?? name;
  const wanted = new Set(plan.files.map((file) => file.stored ?? file.name));
  // Left out, failed or skipped here is not gone: a mirror never deletes what it could not see.
  const kept = await Promise.all(
    [...plan.excluded, ...plan.skipped.map((skip) => skip.name)].map(seal),
  );
  const keptHere = (name: string) => kept.some((k) => name === k || name.startsWith(`${k}/`));
  const prefixes = new Set(
    await Promise.all(paths.map((path) => seal(storedNameOf(path, flags)))),
  );
  for (const prefix of prefixes) {
    for await (const entry of client.entries({ prefix })) {
      const inside = entry.name === prefix || entry.name.startsWith(`${prefix}/`);
      probe?.offer(entry.name, entry.info);
      if (wanted.has(entry.name)) stored.set(entry.name, entry.info);
      else if (inside && !keptHere(entry.name)) gone.push(entry.name);
    }
  }
  return { stored, gone };
}

async function backupOne(
  client: FileClient,
  file: PlannedFile,
  stored: VersionInfo | undefined,
  flags: BackupFlags,
  output: DeferredOutput,
  probe?: SealedProbe,
): Promise<"uploaded" | "unchanged" | "failed"> {
  const shown = printable(file.path);
  try {
    const before = file.link || file.folder
      ? await Deno.lstat(file.path)
      : await Deno.stat(file.path);
    const checksum = (flags.checksum ?? false) && !file.link && !file.folder;
    // A sealed file, link or marker is stored larger than it is: compare with the size it seals.
    const storedLike = stored && flags.seal
      ? { ...stored, size: plainSize(stored.size) ?? -1 }
      : stored;
    // A folder's marker is stored empty (sealed: its metadata), whatever size the file system
    // gives the folder.
    const local = file.folder ? { ...before, size: flags.seal ? FOLDER_META_SIZE : 0 } : before;
    if (storedLike && await unchanged(file.path, local, storedLike, checksum)) {
      return "unchanged";
    }
    if (stored && probe && client instanceof BackupClientV2) {
      const sealed = await probe.sealedCopy(client, file.stored ?? file.name, stored);
      if (sealed !== undefined) {
        const sample = sealed === (file.stored ?? file.name)
          ? file.name
          : (await flags.names?.open(sealed)) ?? sealed;
        throw new UsageError(
          `the server holds ${printable(sample)} sealed (backup --encrypt): back it up with ` +
            `--encrypt, or pass --force to replace sealed copies with plain ones`,
        );
      }
    }
    if (flags.dryRun) {
      output.result(
        { op: "backup", dryRun: true, file: file.path, name: file.name, size: before.size },
        `would back up ${shown} as ${printable(file.name)} (${formatBytes(before.size)})`,
      );
      return "uploaded";
    }
    if (file.link || file.folder) {
      await sendLink(client as BackupClientV2, file, before, output, flags.seal);
      return "uploaded";
    }
    // A file that changes while it is read is sent again once; then it is reported.
    let mtimeMs = before.mtime?.getTime();
    for (let attempt = 1;; attempt++) {
      const size = await sendFile(client, file, output, flags.seal);
      const after = await Deno.stat(file.path);
      if (after.size === size && after.mtime?.getTime() === mtimeMs) break;
      if (attempt === 2) {
        output.warn(`not backed up: ${shown}: it changed while it was being read, twice`);
        return "failed";
      }
      mtimeMs = after.mtime?.getTime();
    }
    return "uploaded";
  } catch (error) {
    if (!isPerFileFailure(error)) throw error;
    output.warn(`not backed up: ${shown}: ${(error as Error).message}`);
    return "failed";
  }
}
