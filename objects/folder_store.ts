/**
 * An object store in a local folder: the object `packs/3f/3f0a.pack` is the file
 * `ROOT/packs/3f/3f0a.pack`. A `put` writes a temp file (`.tmp-<random>`) in the object's folder,
 * fsyncs it, renames it over the name and fsyncs the folder (and the parent of any folder it made),
 * as restic's local backend and rest-server do; a crash leaves at most a temp file, which no
 * listing shows and `sweep` removes. The store's tree holds only its folders and files: a symbolic
 * link or a special file in it is refused (`UnsafeObjectError`), never followed. The root itself may
 * be a link; it is resolved once, at `open`.
 *
 * A reader that opened an object keeps reading that file even if a `put` replaces it, so one `get`
 * sees one version whole. A link swapped in between the checks and the open is detected for the
 * object itself (by its inode), not for its folders: the checks guard against links planted in the
 * tree, not against a writer racing the store inside its own root.
 *
 * @example
 * ```ts
 * import { FolderStore } from "./folder_store.ts";
 * import assert from "node:assert/strict";
 *
 * const root = await Deno.makeTempDir();
 * const store = await FolderStore.open({ root });
 * await store.put("index/0001", new Uint8Array([1, 2, 3]));
 * assert.deepEqual(await store.get("index/0001", { offset: 1, length: 10 }), new Uint8Array([2, 3]));
 * assert.equal(await store.sweep(), 0); // no put was cut off
 * await Deno.remove(root, { recursive: true });
 * ```
 *
 * @module
 */
import {
  type ByteRange,
  checkByteRange,
  type ObjectBody,
  type ObjectInfo,
  type ObjectReader,
  type ObjectStore,
  ObjectStoreError,
  type ObjectWriter,
  UnsafeObjectError,
} from "./object_store.ts";
import { checkObjectName, checkObjectPrefix } from "./object_names.ts";
import { DirectorySyncs } from "../io/durability.ts";
import { lstatOrUndefined, unsafe, walkObjects } from "./_folder_walk.ts";
import { existingPath, makeFolders, openObject } from "./_folder_paths.ts";
import { openTempWriter, writeBody } from "./_folder_writer.ts";

/** Where a `FolderStore` keeps its objects. */
export interface FolderStoreOptions {
  /** The root folder; made if missing (unless `create` is false). */
  root: string;
  /**
   * Whether to make the root if it is missing. `false` opens an existing root only, which needs no
   * write permission (a checker that only reads). @default true
   */
  create?: boolean;
}

/** Which temp files `sweep` removes. */
export interface SweepOptions {
  /**
   * Only temp files last written at least this long ago (default 0: every one). Leave 0 at start-up,
   * before any `put`; give a margin longer than any `put` takes if puts may be running.
   */
  olderThanMs?: number;
  /** The clock, in milliseconds since the epoch (default `Date.now`). */
  now?: () => number;
}

/** The local-folder object store; see the module comment. */
export class FolderStore implements ObjectStore {
  readonly #root: string;
  readonly #syncs = new DirectorySyncs();

  private constructor(root: string) {
    this.#root = root;
  }

  /**
   * Opens (making it if missing) the store at `options.root`.
   *
   * @throws {UnsafeObjectError} if the root is not a folder.
   * @throws {Deno.errors.NotFound} if the root is missing and `create` is false.
   */
  static async open(options: FolderStoreOptions): Promise<FolderStore> {
    if (options.create ?? true) await Deno.mkdir(options.root, { recursive: true });
    const root = await Deno.realPath(options.root);
    const info = await Deno.stat(root);
    if (!info.isDirectory) throw new UnsafeObjectError(`${root} is not a folder`);
    return new FolderStore(root);
  }

  /** The root folder, links resolved. */
  get root(): string {
    return this.#root;
  }

  /** See {@linkcode ObjectStore.put}: `create`, the body, `commit`. */
  async put(name: string, body: ObjectBody): Promise<void> {
    checkObjectName(name);
    if (!(body instanceof Uint8Array) && (!Number.isSafeInteger(body.size) || body.size < 0)) {
      throw new RangeError(`size must be a non-negative safe integer, got ${body.size}`);
    }
    const writer = await this.create(name);
    try {
      await writeBody(writer, name, body);
    } catch (error) {
      await writer.abort();
      throw error;
    }
    await writer.commit();
  }

  /**
   * See {@linkcode ObjectStore.create}: the bytes go into a temp file in the object's folder as
   * they come; `commit` fsyncs it, renames it over the name and fsyncs the folders it touched.
   */
  async create(name: string): Promise<ObjectWriter> {
    checkObjectName(name);
    const segments = name.split("/");
    const { dir, madeIn } = await makeFolders(this.#root, name, segments.slice(0, -1));
    return await openTempWriter({
      name,
      dir,
      target: `${dir}/${segments.at(-1)}`,
      madeIn,
      syncs: this.#syncs,
    });
  }

  /** See {@linkcode ObjectStore.get}. */
  async get(name: string, range?: ByteRange): Promise<Uint8Array> {
    checkObjectName(name);
    if (range) checkByteRange(range);
    using file = await openObject(this.#root, name);
    const size = (await file.stat()).size;
    const start = Math.min(range?.offset ?? 0, size);
    const bytes = new Uint8Array(Math.min(size - start, range?.length ?? size));
    if (start > 0) await file.seek(start, Deno.SeekMode.Start);
    let filled = 0;
    while (filled < bytes.length) {
      const count = await file.read(bytes.subarray(filled));
      if (count === null) {
        throw new ObjectStoreError(`object ${name} ended at ${start + filled}, expected ${size}`);
      }
      filled += count;
    }
    return bytes;
  }

  /** See {@linkcode ObjectStore.readInto}. */
  async readInto(name: string, offset: number, target: Uint8Array): Promise<number> {
    checkObjectName(name);
    checkByteRange({ offset, length: target.length });
    using file = await openObject(this.#root, name);
    if (offset > 0) await file.seek(offset, Deno.SeekMode.Start);
    let filled = 0;
    while (filled < target.length) {
      const count = await file.read(target.subarray(filled));
      if (count === null) break;
      filled += count;
    }
    return filled;
  }

  /**
   * See {@linkcode ObjectStore.openReader}: the file is opened with the checks of `get` (a link
   * or special file refused, the handle's inode the one checked), then read through its handle.
   */
  async openReader(name: string): Promise<ObjectReader> {
    checkObjectName(name);
    const file = await openObject(this.#root, name);
    let size: number;
    try {
      size = (await file.stat()).size;
    } catch (error) {
      file.close();
      throw error;
    }
    let closed = false;
    return {
      size,
      readSync: (offset, target) => {
        if (closed) throw new Error(`object ${name}: the reader is closed`);
        checkByteRange({ offset, length: target.length });
        // Seek and read are both synchronous: no other read of this handle runs in between.
        file.seekSync(offset, Deno.SeekMode.Start);
        let filled = 0;
        while (filled < target.length) {
          const count = file.readSync(target.subarray(filled));
          if (count === null) break;
          filled += count;
        }
        return filled;
      },
      close: () => {
        if (closed) return;
        closed = true;
        file.close();
      },
    };
  }

  /** See {@linkcode ObjectStore.stat}. */
  async stat(name: string): Promise<{ size: number } | undefined> {
    checkObjectName(name);
    const path = await existingPath(this.#root, name);
    const info = path === undefined ? undefined : await lstatOrUndefined(path);
    if (!info || info.isDirectory) return undefined;
    if (!info.isFile) throw unsafe(path!, info);
    return { size: info.size };
  }

  /** See {@linkcode ObjectStore.list}: the walk reads one folder at a time, in sorted order. */
  list(prefix: string): AsyncIterable<ObjectInfo> {
    checkObjectPrefix(prefix);
    return walkObjects(this.#root, prefix);
  }

  /** See {@linkcode ObjectStore.delete}. */
  async delete(name: string): Promise<void> {
    checkObjectName(name);
    const path = await existingPath(this.#root, name);
    const info = path === undefined ? undefined : await lstatOrUndefined(path);
    if (!info || info.isDirectory) return;
    if (!info.isFile) throw unsafe(path!, info);
    try {
      await Deno.remove(path!);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return; // a concurrent delete won
      throw error;
    }
    await this.#syncs.sync(path!.slice(0, path!.lastIndexOf("/")));
  }

  /**
   * Removes the temp files that `put`s cut off by a crash left (see {@linkcode SweepOptions} for
   * when it is safe to run).
   *
   * @returns how many were removed.
   * @throws {UnsafeObjectError} if a link or special file is in the tree.
   */
  async sweep(options: SweepOptions = {}): Promise<number> {
    const olderThanMs = options.olderThanMs ?? 0;
    const now = options.now ?? Date.now;
    let removed = 0;
    const onTemps = async (dir: string, names: string[]) => {
      for (const name of names) {
        const info = await lstatOrUndefined(`${dir}/${name}`);
        if (!info?.isFile) continue; // gone already (its put finished)
        if (olderThanMs > 0 && now() - (info.mtime?.getTime() ?? 0) < olderThanMs) continue;
        try {
          await Deno.remove(`${dir}/${name}`);
          removed++;
        } catch (error) {
          if (!(error instanceof Deno.errors.NotFound)) throw error;
        }
      }
      // A removed temp file that comes back after a crash is swept again: no fsync needed.
    };
    for await (const _ of walkObjects(this.#root, "", { onTemps })) {
      // the walk visits every folder; the objects themselves are not needed
    }
    return removed;
  }
}
