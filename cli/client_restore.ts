/**
 * `restore NAME`: one file to a path (or standard output with `-o -`), or every file under a prefix
 * into a folder, written only beneath it; a past version with `--version`, a folder as it was at a
 * time with `--at`.
 *
 * @module
 */
import { basename } from "node:path";
import type { BackupClient } from "../client/backup_client.ts";
import type { UserKey } from "../client/encryption/seal.ts";
import { SealedWithoutKeyError } from "../client/encryption/plain_guard.ts";
import { type Leniency, markerMeta, opener } from "./restore_sealed.ts";
import { type NameCipher, NameSealError } from "../client/encryption/names.ts";
import { BackupClientV2 } from "../client/backup_client_v2.ts";
import type { FileClient } from "../client/file_client.ts";
import { pathBeneath, printable } from "../client/safe_paths.ts";
import { folderOfMarker } from "../client/local_tree.ts";
import type { VersionInfo } from "../protocol/v2/responses.ts";
import { ConnectionLostError } from "../io/connection_errors.ts";
import { FileNotFoundError } from "../protocol/errors.ts";
import { DeferredOutput, type Output } from "./client_commands.ts";
import type { ClientPool } from "../client/client_pool.ts";
import { createProgress, formatBytes } from "./progress.ts";
import { UsageError } from "./flags.ts";

/** What `restore` was asked to do besides the name. */
export interface RestoreFlags {
  /** `-o`: where to write; `-` for standard output. */
  output?: string;
  force?: boolean;
  /** A version id (from `versions`). */
  version?: number;
  /** Restore as it was at this time (milliseconds since the epoch). */
  atMs?: number;
  /** Open files sealed with this key (`backup --encrypt`). */
  seal?: UserKey;
  /** Names are sealed (`--encrypt-names`). */
  names?: NameCipher;
  dryRun?: boolean;
  /** Under `--encrypt`, take links and empty folders' markers stored plain (with a warning). */
  allowUnsealedLinks?: boolean;
}

/** How a folder restore went. */
export interface RestoreSummary {
  restored: number;
  failed: number;
}

/**
 * Restores one file, or every file under a prefix (a NAME ending in `/`, or one the server holds
 * only as a folder) into a local folder.
 */
export async function restore(
  pool: ClientPool,
  client: FileClient,
  name: string,
  flags: RestoreFlags,
  output: Output,
): Promise<RestoreSummary> {
  if ((flags.version !== undefined || flags.atMs !== undefined) && !isV2(client)) {
    throw new UsageError("--version and --at need protocol version 2 (a key: see keygen)");
  }
  if (!name.endsWith("/") && flags.atMs === undefined) {
    try {
      const lines = new DeferredOutput(output, output.quiet);
      try {
        await restoreOne(client, name, flags, lines);
      } finally {
        lines.flush();
      }
      return { restored: 1, failed: 0 };
    } catch (error) {
      if (!(error instanceof FileNotFoundError) || flags.version !== undefined) throw error;
      if (!(await storedUnder(client, `${name}/`, undefined, flags.names)).length) throw error;
    }
  }
  if (flags.output === "-") throw new UsageError("-o - writes one file; this is a folder");
  const prefix = name.replace(/\/+$/, "") + "/";
  const files = await storedUnder(client, prefix, flags.atMs, flags.names);
  if (files.length === 0) throw new FileNotFoundError(prefix);
  const target = flags.output ?? basename(prefix);
  if (!flags.force) {
    // Nothing is restored when anything would be replaced: better no files than a mix.
    for (const file of files) {
      const path = `${target}/${file.name.slice(prefix.length)}`;
      if (await exists(path)) {
        throw new UsageError(`${path} exists: pass --force to replace it, or -o another folder`);
      }
    }
  }
  // Stored metadata goes to the folders this restore makes, never to one that was there.
  const created = new Set<string>();
  if (!flags.dryRun && !(await exists(target))) {
    await Deno.mkdir(target, { recursive: true });
    created.add(target);
  }
  const summary: RestoreSummary = { restored: 0, failed: 0 };
  const parallel = Math.min(pool.size, files.length) > 1;
  await pool.run(
    files,
    async (worker, file) => {
      const lines = new DeferredOutput(output, output.quiet || parallel);
      const relative = file.name.slice(prefix.length);
      try {
        const path = flags.dryRun
          ? `${target}/${relative}`
          : await pathBeneath(target, relative, created);
        await fetch(worker, file, path, flags, lines, created);
        return { ok: true, lines };
      } catch (error) {
        // Sealed files without the key: every other file is likely sealed too; one line says so.
        if (error instanceof ConnectionLostError || error instanceof SealedWithoutKeyError) {
          throw error;
        }
        lines.warn(`not restored: ${printable(file.name)}: ${(error as Error).message}`);
        return { ok: false, lines };
      }
    },
    (_, { ok, lines }) => {
      lines.flush();
      if (ok) summary.restored++;
      else summary.failed++;
    },
  );
  return summary;
}

interface StoredName {
  /** The name as the user knows it. */
  name: string;
  /** The name the server knows it by, when it differs (sealed names). */
  stored?: string;
  /** The version to fetch (`--at`), or the current one. */
  versionId?: number;
  /** What the list said of it (version 2). */
  info?: Listed;
}

/** What a folder restore keeps of each listed version (not its digest: a list can be long). */
type Listed = Pick<VersionInfo, "size" | "mode" | "mtimeMs">;

/** The stored names under `prefix`, now or (version 2) at a time. */
async function storedUnder(
  client: FileClient,
  prefix: string,
  atMs: number | undefined,
  names?: NameCipher,
): Promise<StoredName[]> {
  const storedPrefix = names ? await names.seal(prefix) : prefix;
  const found: Array<{ stored: string; versionId?: number; info?: Listed }> = [];
  if (client instanceof BackupClientV2) {
    for await (const { name, info } of client.entries({ prefix: storedPrefix, atMs })) {
      found.push({
        stored: name,
        versionId: atMs === undefined ? undefined : info.versionId,
        info: { size: info.size, mode: info.mode, mtimeMs: info.mtimeMs },
      });
    }
  } else {
    for (const stored of await client.list()) {
      if (stored.startsWith(storedPrefix)) found.push({ stored });
    }
  }
  if (!names) {
    return found.map(({ stored, versionId, info }) => ({ name: stored, versionId, info }));
  }
  const files: StoredName[] = [];
  for (const { stored, versionId, info } of found) {
    const name = await names.open(stored);
    // A name sealed with another key is not this user's to restore: say so, skip it.
    if (name === undefined) throw new NameSealError(`${stored} was not sealed with this key`);
    files.push({ name, stored, versionId, info });
  }
  return files;
}

async function restoreOne(
  client: FileClient,
  name: string,
  flags: RestoreFlags,
  output: DeferredOutput,
): Promise<void> {
  const stored = flags.names ? await flags.names.seal(name) : name;
  if (flags.output === "-") {
    const sink = { write: (bytes: Uint8Array) => Deno.stdout.write(bytes) };
    const through = opener(flags.seal, name, leniency(flags, output));
    if (client instanceof BackupClientV2) {
      await client.retrieve(stored, sink, { versionId: flags.version, through });
    } else await (client as BackupClient).retrieve(stored, sink, { through });
    return;
  }
  const path = flags.output ?? basename(name);
  if (!flags.force && await exists(path)) {
    throw new UsageError(`${path} exists: pass --force to replace it, or -o another path`);
  }
  if ((await Deno.lstat(path).catch(() => undefined))?.isDirectory) {
    throw new UsageError(`${path} is a folder: give -o the file's own path`);
  }
  await fetch(client, { name, stored, versionId: flags.version }, path, flags, output);
}

async function fetch(
  client: FileClient,
  file: StoredName,
  path: string,
  flags: RestoreFlags,
  output: DeferredOutput,
  created = new Set<string>(),
): Promise<void> {
  const folder = folderOfMarker(file.name);
  const shown = printable(folder ?? file.name);
  if (folder !== undefined) {
    // An empty folder's marker: the folder (made by `pathBeneath`) gets its mode and time, if
    // this restore made it; with --encrypt, those sealed in the marker.
    const dir = path.slice(0, path.lastIndexOf("/"));
    if (!flags.dryRun && file.info) {
      const info = file.info;
      const meta = await markerMeta(client, { ...file, info }, flags.seal, leniency(flags, output));
      if (created.has(dir)) {
        if (meta.mode !== null && Deno.build.os !== "windows") {
          await Deno.chmod(dir, meta.mode & 0o777);
        }
        await Deno.utime(dir, new Date(meta.mtimeMs), new Date(meta.mtimeMs));
      }
    }
    output.result({ op: "restore", name: folder, path: dir }, `restored ${shown} to ${dir}/`);
    return;
  }
  if (flags.dryRun) {
    output.result(
      { op: "restore", dryRun: true, name: file.name, path },
      `would restore ${shown} to ${path}`,
    );
    return;
  }
  const progress = createProgress(file.name, output.quietProgress);
  let size;
  try {
    const options = {
      onProgress: progress.update,
      versionId: file.versionId,
      through: opener(flags.seal, file.name, leniency(flags, output)),
    };
    size = await client.retrieveToFile(file.stored ?? file.name, path, options);
  } finally {
    progress.finish();
  }
  output.result(
    { op: "restore", user: client.userId, name: file.name, path, size, version: file.versionId },
    `restored ${shown} to ${printable(path)} (${formatBytes(size)})`,
  );
}

/** What `flags` let through that restore otherwise refuses; warnings go to `output`. */
function leniency(flags: RestoreFlags, output: DeferredOutput): Leniency {
  return {
    allowUnsealedLinks: flags.allowUnsealedLinks,
    force: flags.force,
    warn: (line) => output.warn(line),
  };
}

function isV2(client: FileClient): boolean {
  return client instanceof BackupClientV2;
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}
