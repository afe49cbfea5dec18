/**
 * The repository's objects (packs under `ROOT/repo`) opened for a tool that only reads a root
 * (`verify`, `export`): nothing is made, so read permission on the root is enough. A root that has
 * never stored a chunked file has no `repo` folder; it reads as an empty store.
 *
 * @module
 */
import { FolderStore } from "../../objects/folder_store.ts";
import {
  type ObjectInfo,
  ObjectNotFoundError,
  type ObjectStore,
  ObjectStoreError,
  type ObjectWriter,
} from "../../objects/object_store.ts";
import { checkObjectName } from "../../objects/object_names.ts";
import { REPOSITORY_DIR_NAME } from "./options.ts";

/**
 * Opens `ROOT/repo` without making anything.
 *
 * @throws {UnsafeObjectError} if `ROOT/repo` is there but not a folder.
 */
export async function openRepositoryForReading(root: string): Promise<ObjectStore> {
  try {
    return await FolderStore.open({ root: `${root}/${REPOSITORY_DIR_NAME}`, create: false });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return new EmptyStore();
    throw error;
  }
}

/** A store with no objects, refusing writes: the repository of a root that never had one. */
class EmptyStore implements ObjectStore {
  put(name: string): Promise<void> {
    return Promise.reject(new ObjectStoreError(`cannot put ${name}: the store is read-only`));
  }
  create(name: string): Promise<ObjectWriter> {
    return Promise.reject(new ObjectStoreError(`cannot create ${name}: the store is read-only`));
  }
  get(name: string): Promise<Uint8Array> {
    checkObjectName(name);
    return Promise.reject(new ObjectNotFoundError(name));
  }
  stat(name: string): Promise<{ size: number } | undefined> {
    checkObjectName(name);
    return Promise.resolve(undefined);
  }
  async *list(_prefix: string): AsyncIterable<ObjectInfo> {}
  delete(name: string): Promise<void> {
    return Promise.reject(new ObjectStoreError(`cannot delete ${name}: the store is read-only`));
  }
}
