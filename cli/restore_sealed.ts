/**
 * What `restore` does with sealed payloads: opens them with `--encrypt` (files, link targets,
 * empty folders' markers, each only as what it was sealed as), refuses them without.
 *
 * @module
 */
import { DecryptionError, openingSink, type UserKey } from "../client/encryption/seal.ts";
import { bySealing, refusingSealed } from "../client/encryption/plain_guard.ts";
import {
  FOLDER_META_SIZE,
  type FolderMeta,
  parseFolderMeta,
  sealedSize,
} from "../client/encryption/format.ts";
import type { TransferOptions } from "../client/transfer_options.ts";
import { BackupClientV2 } from "../client/backup_client_v2.ts";
import type { FileClient } from "../client/file_client.ts";
import { folderOfMarker } from "../client/local_tree.ts";
import { printable } from "../client/safe_paths.ts";
import type { ByteSink } from "../io/byte_stream.ts";
import { MODE_SYMLINK, MODE_TYPE_MASK } from "../protocol/v2/constants.ts";

/** An empty folder's marker as a folder restore lists it. */
export interface SealedMarker {
  /** The marker's name as the user knows it (`a/b/.backup-folder`). */
  name: string;
  /** The name the server knows it by, when it differs (sealed names). */
  stored?: string;
  /** The version to fetch, or the current one. */
  versionId?: number;
  /** Its size as listed. */
  info?: { size: number };
}

/** What `restore` lets through that it would otherwise refuse, and where it says so. */
export interface Leniency {
  /** `--allow-unsealed-links`: under `--encrypt`, links and folder markers stored plain. */
  allowUnsealedLinks?: boolean;
  /** `--force`: without `--encrypt`, a payload that looks sealed is written as it is stored. */
  force?: boolean;
  /** Says what was let through, one line per entry. */
  warn(line: string): void;
}

/**
 * What a payload goes through on its way to the disk: with `--encrypt`, opening (a file's bytes
 * or a link's target, each refused unless sealed as what it is; with `--allow-unsealed-links`, a
 * link stored plain is taken as it is); without, a refusal of sealed bytes, which would otherwise
 * be written as if they were the file (with `--force`, a warning).
 */
export function opener(
  userKey: UserKey | undefined,
  name: string,
  leniency?: Leniency,
): TransferOptions["through"] {
  return (sink: ByteSink, payload: { size: number; mode?: number | null }) => {
    const link = payload.mode != null && (payload.mode & MODE_TYPE_MASK) === MODE_SYMLINK;
    const shown = printable(name);
    if (!userKey) {
      const asStored = leniency?.force
        ? () =>
          leniency.warn(
            `${shown} looks sealed (backup --encrypt); written as it is stored (--force): ` +
              `if it was sealed, restore it with --encrypt instead`,
          )
        : undefined;
      return refusingSealed(sink, { name, size: payload.size }, asStored);
    }
    const opening = (target: ByteSink) =>
      openingSink(target, { userKey, name, kind: link ? "link" : "file" });
    if (!link || !leniency?.allowUnsealedLinks) return opening(sink);
    // Links stored by clients that did not seal them: their targets as they are, each said.
    return bySealing(payload.size, (sealed) => {
      if (sealed) return opening(sink);
      leniency.warn(`accepted the unsealed link ${shown} (--allow-unsealed-links)`);
      return sink;
    });
  };
}

/**
 * An empty folder's mode and time for a folder restore: as listed without `--encrypt`; with it,
 * those sealed in its marker (see `openMarker`), or with `--allow-unsealed-links` those listed
 * of a marker stored plain (by clients that did not seal markers), with a warning.
 */
export async function markerMeta(
  client: FileClient,
  file: SealedMarker & { info: FolderMeta & { size: number } },
  userKey: UserKey | undefined,
  leniency?: Leniency,
): Promise<FolderMeta> {
  if (!userKey) return file.info;
  if (leniency?.allowUnsealedLinks && file.info.size !== sealedSize(FOLDER_META_SIZE)) {
    const folder = folderOfMarker(file.name)!;
    leniency.warn(`accepted the unsealed folder ${printable(folder)} (--allow-unsealed-links)`);
    return file.info;
  }
  return await openMarker(client, file, userKey);
}

/**
 * The folder metadata sealed in an empty folder's marker (`--encrypt`).
 *
 * @throws {DecryptionError} for a marker that is not sealed, or not as a folder's marker.
 */
export async function openMarker(
  client: FileClient,
  file: SealedMarker,
  userKey: UserKey,
): Promise<FolderMeta> {
  const folder = folderOfMarker(file.name)!;
  const refused = () =>
    new DecryptionError(
      `the folder ${
        printable(folder)
      } is not sealed: refused (--encrypt opens only what it sealed)`,
    );
  if (!(client instanceof BackupClientV2) || file.info?.size !== sealedSize(FOLDER_META_SIZE)) {
    throw refused();
  }
  const bytes = new Uint8Array(FOLDER_META_SIZE);
  let filled = 0;
  const sink = {
    write(chunk: Uint8Array) {
      if (filled + chunk.length > bytes.length) return Promise.reject(refused());
      bytes.set(chunk, filled);
      filled += chunk.length;
      return Promise.resolve(chunk.length);
    },
  };
  await client.retrieve(file.stored ?? file.name, sink, {
    versionId: file.versionId,
    through: (target) => openingSink(target, { userKey, name: file.name, kind: "folder" }),
  });
  const meta = filled === bytes.length ? parseFolderMeta(bytes) : undefined;
  if (!meta) throw refused();
  return meta;
}
