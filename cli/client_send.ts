/**
 * How one file of a backup goes to the server: as it is, sealed (`--encrypt`), or as a link; and
 * whether the server already has it.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { BackupClientV2 } from "../client/backup_client_v2.ts";
import { ServerError } from "../client/client_errors.ts";
import type { FileClient } from "../client/file_client.ts";
import { folderOfMarker, type PlannedFile } from "../client/local_tree.ts";
import { bytesSource } from "../io/byte_stream.ts";
import { AdaptiveFile } from "../io/adaptive_file.ts";
import type { BackupClient } from "../client/backup_client.ts";
import { sealingSource, type UserKey } from "../client/encryption/seal.ts";
import { encodeFolderMeta, sealedSize } from "../client/encryption/format.ts";
import { MODE_SYMLINK } from "../protocol/v2/constants.ts";
import { printable } from "../client/safe_paths.ts";
import type { VersionInfo } from "../protocol/v2/responses.ts";
import { compareBytes } from "../protocol/list.ts";
import type { DeferredOutput } from "./client_commands.ts";
import { createProgress, formatBytes } from "./progress.ts";

/** Sends a file as it is, or sealed with `seal`; resolves its (plain) size. */
export async function sendFile(
  client: FileClient,
  file: PlannedFile,
  output: DeferredOutput,
  seal: UserKey | undefined,
): Promise<number> {
  const progress = createProgress(file.name, output.quietProgress);
  let size;
  try {
    size = seal
      ? await sendSealed(client, file, seal, progress.update)
      : await client.backupFile(file.stored ?? file.name, file.path, {
        onProgress: progress.update,
      });
  } finally {
    progress.finish();
  }
  output.result(
    { op: "backup", user: client.userId, file: file.path, name: file.name, size },
    `backed up ${printable(file.path)} as ${printable(file.name)} (${formatBytes(size)})`,
  );
  return size;
}

/** Sends a file sealed with `userKey`; resolves its plain size. */
async function sendSealed(
  client: FileClient,
  file: PlannedFile,
  userKey: UserKey,
  onProgress: (done: number, total: number) => void,
): Promise<number> {
  using opened = await Deno.open(file.path, { read: true });
  const info = await opened.stat();
  const source = await sealingSource(new AdaptiveFile(opened), info.size, {
    userKey,
    name: file.name,
  });
  const size = sealedSize(info.size);
  if (client instanceof BackupClientV2) {
    const metadata = {
      mtimeMs: info.mtime?.getTime(),
      mode: info.mode === null ? null : info.mode & 0o7777,
    };
    await client.backup(file.stored ?? file.name, source, size, metadata, { onProgress });
  } else {
    await (client as BackupClient).backup(file.stored ?? file.name, source, size, { onProgress });
  }
  return info.size;
}

/**
 * Stores a symbolic link as one (its target as the payload, the link type in its mode), or an
 * empty folder as its marker (no payload, the folder's mode and time). With `seal`, the target,
 * or the folder's mode and time, are sealed (as a link's, or a folder's: see `wrapData`).
 */
export async function sendLink(
  client: BackupClientV2,
  file: PlannedFile,
  info: Deno.FileInfo,
  output: DeferredOutput,
  seal?: UserKey,
): Promise<void> {
  const mode = file.link ? MODE_SYMLINK | 0o777 : (info.mode ?? 0o755) & 0o7777;
  const mtimeMs = info.mtime?.getTime() ?? Date.now();
  const plain = file.link
    ? new TextEncoder().encode(await Deno.readLink(file.path))
    : seal
    ? encodeFolderMeta({ mode: info.mode === null ? null : info.mode & 0o7777, mtimeMs })
    : new Uint8Array();
  const source = seal
    ? await sealingSource(bytesSource(plain), plain.length, {
      userKey: seal,
      name: file.name,
      kind: file.link ? "link" : "folder",
    })
    : bytesSource(plain);
  const size = seal ? sealedSize(plain.length) : plain.length;
  await client.backup(file.stored ?? file.name, source, size, { mtimeMs, mode });
  const shown = file.link ? file.name : folderOfMarker(file.name)!;
  const what = file.link ? "a link" : "an empty folder";
  output.result(
    {
      op: "backup",
      user: client.userId,
      file: file.path,
      name: shown,
      [file.link ? "link" : "folder"]: true,
    },
    `backed up ${printable(file.path)} as ${printable(shown)} (${what})`,
  );
}

/** Same size and modification time as stored (or, with `checksum`, the same SHA-256). */
export async function unchanged(
  path: string,
  info: Deno.FileInfo,
  stored: VersionInfo,
  checksum: boolean,
): Promise<boolean> {
  if (info.size !== stored.size) return false;
  if (!checksum) return info.mtime?.getTime() === stored.mtimeMs;
  const hash = createHash("sha256");
  using file = await Deno.open(path, { read: true });
  const buffer = new Uint8Array(1024 * 1024);
  for (let count = await file.read(buffer); count !== null; count = await file.read(buffer)) {
    hash.update(buffer.subarray(0, count));
  }
  return compareBytes(new Uint8Array(hash.digest()), stored.sha256) === 0;
}

/** Failures of one file that leave the connection usable: the next file can go. */
export function isPerFileFailure(error: unknown): boolean {
  return error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotFound ||
    error instanceof Deno.errors.IsADirectory || error instanceof ServerError ||
    (error instanceof Error && /ended \d+ bytes before its size/.test(error.message));
}
