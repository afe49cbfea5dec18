/**
 * The data files of large versions: `ROOT/data/<2 hex>/<32 hex>`, named by the server (random, never
 * from a user's name), written once, never changed, removed once no version points to them.
 *
 * @module
 */
import { UnsafePathError } from "../storage.ts";
import { CorruptStoreError } from "../storage.ts";
import type { ScratchFile } from "./spool.ts";

/** The folder under the root that holds data files. */
export const DATA_DIR_NAME = "data";

const NAME_PATTERN = /^[0-9a-f]{32}$/;

/** A data file the index points to is not there. */
export class MissingDataFileError extends CorruptStoreError {
  /** @param name the data file's name */
  constructor(name: string, options?: ErrorOptions) {
    super(`data file ${name} is missing`, options);
  }
}

/** The data files under one root. */
export class DataFiles {
  readonly #dir: string;

  /** @param root the backup root */
  constructor(root: string) {
    this.#dir = `${root}/${DATA_DIR_NAME}`;
  }

  /** The folder of every data file. */
  get dir(): string {
    return this.#dir;
  }

  /**
   * Makes the data folder and its 256 shards, refusing links or files in their place.
   *
   * @throws {UnsafePathError} if one of them is not a real folder.
   */
  prepare(): void {
    ensureFolder(this.#dir);
    for (let shard = 0; shard < 256; shard++) ensureFolder(`${this.#dir}/${hex2(shard)}`);
  }

  /** The folder a data file's entry is in (to fsync once the file is created). */
  folderOf(name: string): string {
    return `${this.#dir}/${name.slice(0, 2)}`;
  }

  /** Creates a new, empty data file under a fresh random name. */
  create(): { name: string; file: Deno.FsFile } {
    return this.#createNamed(randomName());
  }

  /**
   * A scratch file for the server's own use, already unlinked, with one handle to write and one to
   * read: it is gone once both are closed, and a crash before the unlink leaves an unreferenced
   * file that the start-up sweep removes.
   */
  scratch(): ScratchFile {
    const path = this.#path(randomName());
    const writer = Deno.openSync(path, { write: true, createNew: true });
    let reader: Deno.FsFile | undefined;
    try {
      reader = Deno.openSync(path, { read: true });
      Deno.removeSync(path);
      return { writer, reader };
    } catch (error) {
      writer.close();
      reader?.close();
      throw error;
    }
  }

  #createNamed(name: string): { name: string; file: Deno.FsFile } {
    // createNew fails on anything already there, a link included.
    const file = Deno.openSync(this.#path(name), { write: true, createNew: true });
    return { name, file };
  }

  /**
   * Opens a data file for reading and checks it is a regular file of `size` bytes.
   *
   * @throws {MissingDataFileError} if it is missing.
   * @throws {CorruptStoreError} if it has another size.
   * @throws {UnsafePathError} if a link or special file is in its place.
   */
  async open(name: string, size: number): Promise<Deno.FsFile> {
    return await openRegularFile(this.#path(name), (info) => {
      if (info.size !== size) {
        throw new CorruptStoreError(`data file ${name} holds ${info.size} bytes, expected ${size}`);
      }
    }).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      throw new MissingDataFileError(name, { cause: error });
    });
  }

  /**
   * Makes a file outside the data folder (on the same file system) a data file too: a hard link
   * when the file system has them, else a durable copy from `opened`, its open handle.
   *
   * @returns the new data file's name; the caller fsyncs its folder (`folderOf`).
   */
  adopt(path: string, opened: Deno.FsFile): string {
    const name = randomName();
    try {
      Deno.linkSync(path, this.#path(name));
      return name;
    } catch {
      // no hard links here (or across devices): copy instead
    }
    const { file } = this.#createNamed(name);
    try {
      opened.seekSync(0, Deno.SeekMode.Start);
      const buffer = new Uint8Array(1024 * 1024);
      for (let count = opened.readSync(buffer); count; count = opened.readSync(buffer)) {
        let offset = 0;
        while (offset < count) offset += file.writeSync(buffer.subarray(offset, count));
      }
      file.syncDataSync();
      return name;
    } catch (error) {
      try {
        Deno.removeSync(this.#path(name));
      } catch {
        // the copy is unreferenced: the start-up sweep removes it
      }
      throw error;
    } finally {
      file.close();
    }
  }

  /** Removes data files; missing ones are ignored. Never rejects: a leftover is swept at start. */
  async remove(names: Iterable<string>): Promise<void> {
    await Promise.all([...names].map((name) => Deno.remove(this.#path(name)).catch(() => {})));
  }

  /**
   * Removes every file under the data folder that `isReferenced` does not claim: uploads cut off by
   * a crash, and files whose removal a crash interrupted. Run before serving.
   *
   * @returns how many were removed.
   */
  async sweepOrphans(isReferenced: (name: string) => boolean): Promise<number> {
    let removed = 0;
    for (let shard = 0; shard < 256; shard++) {
      const folder = `${this.#dir}/${hex2(shard)}`;
      for await (const entry of Deno.readDir(folder)) {
        if (entry.isFile && NAME_PATTERN.test(entry.name) && isReferenced(entry.name)) continue;
        await Deno.remove(`${folder}/${entry.name}`, { recursive: true });
        removed++;
      }
    }
    return removed;
  }

  #path(name: string): string {
    if (!NAME_PATTERN.test(name)) throw new CorruptStoreError(`bad data file name ${name}`);
    return `${this.#dir}/${name.slice(0, 2)}/${name}`;
  }
}

/**
 * Opens a file for reading only if it is a regular file, not a link: checked by `lstat` before and
 * by the open handle after (a swap in between shows as another inode). The open itself is
 * asynchronous, so that a FIFO or device swapped in at the last moment blocks a pool thread, never
 * the event loop.
 *
 * @param check further checks of the opened file's info; throw to refuse it
 * @throws {UnsafePathError} if a link or special file is in the way.
 * @throws {Deno.errors.NotFound} if there is no such file.
 */
export async function openRegularFile(
  path: string,
  check: (info: Deno.FileInfo) => void = () => {},
): Promise<Deno.FsFile> {
  const before = Deno.lstatSync(path);
  if (!before.isFile) throw new UnsafePathError(`${path} is not a regular file`);
  const file = await Deno.open(path, { read: true });
  try {
    const opened = file.statSync();
    if (!opened.isFile || opened.ino !== before.ino || opened.dev !== before.dev) {
      throw new UnsafePathError(`${path} changed into a link or special file while being opened`);
    }
    check(opened);
    return file;
  } catch (error) {
    file.close();
    throw error;
  }
}

/** Makes `dir` a real folder if missing; refuses a link or file in its place. */
export function ensureFolder(dir: string): void {
  // Looked at first: at a start the folders are there, and a failed mkdir costs an error object
  // (257 of them per start); made only if missing, looked at again if made meanwhile.
  let info: Deno.FileInfo;
  try {
    info = Deno.lstatSync(dir);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    try {
      Deno.mkdirSync(dir);
      return;
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    }
    info = Deno.lstatSync(dir);
  }
  if (!info.isDirectory) {
    throw new UnsafePathError(
      `${dir} is a ${info.isSymlink ? "symbolic link" : "file"}, expected a folder`,
    );
  }
}

function randomName(): string {
  let name = "";
  for (const byte of crypto.getRandomValues(new Uint8Array(16))) name += hex2(byte);
  return name;
}

function hex2(byte: number): string {
  return byte.toString(16).padStart(2, "0");
}
