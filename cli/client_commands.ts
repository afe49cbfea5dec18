import { toHex } from "../common/hex.ts";
import { BackupClientV2 } from "../client/backup_client_v2.ts";
import type { FileClient } from "../client/file_client.ts";
import { printable } from "../client/safe_paths.ts";
import { folderOfMarker } from "../client/local_tree.ts";
import type { NameCipher } from "../client/encryption/names.ts";
import type { VersionInfo } from "../protocol/v2/responses.ts";
import { FileNotFoundError } from "../protocol/errors.ts";
import { formatBytes } from "./progress.ts";
import { UsageError } from "./flags.ts";
import type { Output } from "./client_output.ts";

export { DeferredOutput, Output } from "./client_output.ts";

/** Lists stored names, only those starting with `prefix` if given. */
export async function list(
  client: FileClient,
  prefix: string | undefined,
  output: Output,
  cipher?: NameCipher,
): Promise<void> {
  let stored = await client.list();
  // Sealed names are shown opened; one sealed with another key is shown as stored.
  if (cipher) {
    stored = await Promise.all(stored.map(async (name) => (await cipher.open(name)) ?? name));
  }
  // An empty folder's marker is shown as the folder.
  const names = stored.map((name) => folderOfMarker(name) ?? name).filter((name) =>
    !prefix || name.startsWith(prefix)
  );
  if (output.json) output.result({ op: "list", user: client.userId, files: names }, "");
  else if (names.length > 0) console.log(names.map(printable).join("\n"));
  else output.note(`no files stored for user ${client.userId}${prefix ? ` under ${prefix}` : ""}`);
}

/**
 * Deletes one file, or with a NAME ending in `/` every file under it (each becomes a past version
 * on a server that keeps them). Resolves how many were deleted.
 */
export async function deleteNames(
  client: FileClient,
  name: string,
  dryRun: boolean,
  output: Output,
  cipher?: NameCipher,
): Promise<number> {
  const target = cipher ? await cipher.seal(name) : name;
  const names = target.endsWith("/")
    ? (await client.list()).filter((stored) => stored.startsWith(target))
    : [target];
  if (names.length === 0) throw new FileNotFoundError(name);
  for (const stored of names) {
    if (!dryRun) await client.delete(stored);
    const shown = (await cipher?.open(stored)) ?? stored;
    output.result(
      { op: "delete", user: client.userId, name: shown, dryRun: dryRun || undefined },
      `${dryRun ? "would delete" : "deleted"} ${printable(shown)}`,
    );
  }
  return names.length;
}

/**
 * Prints the versions of a stored name, oldest first (protocol version 2); for a NAME ending in
 * `/` (or one that is only a folder on the server), those of each file stored under it now.
 */
export async function versions(
  client: FileClient,
  name: string,
  output: Output,
  cipher?: NameCipher,
): Promise<void> {
  if (!(client instanceof BackupClientV2)) {
    throw new UsageError("versions needs protocol version 2 (a key: see keygen)");
  }
  const seal = async (plain: string) => cipher ? await cipher.seal(plain) : plain;
  const folder = name.endsWith("/") ? name : `${name}/`;
  let stored: string[] | undefined;
  if (!name.endsWith("/")) {
    try {
      const all = await client.versions(await seal(name));
      printVersions(client.userId, name, all, output);
      return;
    } catch (error) {
      // No file of that name: it may be a folder named without its slash.
      if (!(error instanceof FileNotFoundError)) throw error;
      stored = await client.list(await seal(folder));
      if (stored.length === 0) throw error;
    }
  }
  stored ??= await client.list(await seal(folder));
  if (stored.length === 0) throw new FileNotFoundError(folder);
  for (const [index, storedName] of stored.entries()) {
    const shown = (await cipher?.open(storedName)) ?? storedName;
    const all = await client.versions(storedName);
    if (!output.json) console.log(`${index > 0 ? "\n" : ""}${printable(shown)}`);
    printVersions(client.userId, shown, all, output);
  }
}

function printVersions(
  userId: number,
  name: string,
  all: VersionInfo[],
  output: Output,
): void {
  if (output.json) {
    const rows = all.map((info) => ({ ...info, sha256: toHex(info.sha256) }));
    output.result({ op: "versions", user: userId, name, versions: rows }, "");
    return;
  }
  console.log(
    "VERSION  STORED                    SIZE        MODIFIED                  SHA-256           STATE",
  );
  for (const info of all) {
    const state = info.endedMs === null
      ? "current"
      : `${info.deleted ? "deleted" : "replaced"} ${new Date(info.endedMs).toISOString()}`;
    console.log(
      [
        String(info.versionId).padEnd(7),
        new Date(info.storedMs).toISOString().padEnd(24),
        formatBytes(info.size).padStart(10),
        new Date(info.mtimeMs).toISOString().padEnd(24),
        toHex(info.sha256).slice(0, 16),
        state,
      ].join("  "),
    );
  }
}
