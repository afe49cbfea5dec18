/**
 * The first steps of opening an embedded root (`engine.ts`): the folder made, no symbolic link
 * where the lock or the index goes, the root's lock taken, the index and the pack store opened.
 * A root that cannot be used is one error that names it (`unusableRoot`).
 *
 * @module
 */
import { FolderStore } from "../../objects/folder_store.ts";
import { UnsafePathError } from "../storage.ts";
import { VersionIndex } from "./version_index.ts";
import { ROOT_LOCK_FILE_NAME, RootInUseError, RootLock } from "./root_lock.ts";
import {
  DEFAULT_KEEP_DAYS,
  type EmbeddedStorageOptions,
  INDEX_FILE_NAME,
  REPOSITORY_DIR_NAME,
} from "./options.ts";

/** A root whose lock this process holds, with its index and pack store open. */
export interface OpenedRoot {
  /** The root's path, without a trailing slash. */
  root: string;
  /** The index (`INDEX_FILE_NAME` in the root). */
  index: VersionIndex;
  /** The pack store (`REPOSITORY_DIR_NAME` in the root). */
  store: FolderStore;
  /** The root's lock: released when the engine closes. */
  rootLock: RootLock;
}

/**
 * Makes the root if missing, takes its lock, opens its index and pack store. On failure nothing
 * stays open or locked.
 *
 * @throws {RootInUseError} if another process holds the root.
 * @throws {Deno.errors.NotCapable} without the permissions the root needs.
 * @throws {Error} saying which root is unusable and why, for anything else.
 */
export async function openRoot(options: EmbeddedStorageOptions): Promise<OpenedRoot> {
  const root = options.root.replace(/\/+$/, "") || "/";
  let index: VersionIndex | undefined;
  let rootLock: RootLock | undefined;
  try {
    await Deno.mkdir(root, { recursive: true });
    const indexPath = `${root}/${INDEX_FILE_NAME}`;
    const lockPath = `${root}/${ROOT_LOCK_FILE_NAME}`;
    for (const path of [lockPath, indexPath, `${indexPath}-wal`, `${indexPath}-shm`]) {
      if (isLink(path)) throw new UnsafePathError(`refusing symbolic link ${path}`);
    }
    rootLock = await RootLock.take(root);
    index = new VersionIndex(indexPath, {
      keepDays: options.retention?.keepDays ?? DEFAULT_KEEP_DAYS,
      keepVersions: options.retention?.keepVersions,
    }, options.appendOnlyOf);
    const store = await FolderStore.open({ root: `${root}/${REPOSITORY_DIR_NAME}` });
    return { root, index, store, rootLock };
  } catch (error) {
    index?.close();
    rootLock?.release();
    throw unusableRoot(root, error);
  }
}

/**
 * The error to throw for a root that failed to open: a missing permission or a root in use as
 * they are, anything else wrapped in one that names the root.
 */
export function unusableRoot(root: string, error: unknown): unknown {
  if (error instanceof Deno.errors.NotCapable || error instanceof RootInUseError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new Error(`the backup root ${root} is not usable: ${reason}`, { cause: error });
}

function isLink(path: string): boolean {
  try {
    return Deno.lstatSync(path).isSymlink;
  } catch {
    return false;
  }
}
