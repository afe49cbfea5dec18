import { FileNotFoundError, UnsafePathError } from "../protocol/errors.ts";
import { AdaptiveFile, DEFAULT_POLICY } from "../io/adaptive_file.ts";
import { type ByteSource, bytesSource, writeAll } from "../io/byte_stream.ts";
import type { ReadCache, ReadCacheStats } from "./read_cache.ts";

/** Folder under the root for uploads in progress; never inside a user's folder, so never listed. */
export const TEMP_DIR_NAME = ".tmp";

/** Options of `Storage.open`. */
export interface StorageOptions {
  /** The backup root; created if missing. */
  root: string;
  /** Where small files retrieved again and again are kept; default: none. */
  readCache?: ReadCache;
}

/** An upload in progress: a temporary file that becomes the stored file on `commit`. */
export interface Upload {
  /** Appends all of `bytes` to the temporary file. */
  write(bytes: Uint8Array): Promise<void>;
  /** Makes the upload durable and puts it in place atomically. */
  commit(): Promise<void>;
  /** Drops the upload; the stored file (if any) is untouched. */
  abort(): Promise<void>;
}

/** Storage's counters, as the stats line reports them. */
export interface StorageStats {
  /** Retrieves served from the read cache, and what it holds now. */
  readCache: ReadCacheStats;
  /**
   * Uploads and retrieves whose file calls turned slow (the disk answered, not the page cache) and
   * moved to Deno's thread pool (see `AdaptiveFile`): a count that keeps rising means the disk sets
   * the pace.
   */
  slowDiskFiles: number;
}

/** A stored file opened for reading. */
export interface StoredFile extends Disposable {
  /** Reads the file from its current position; see `AdaptiveFile`. */
  readonly source: ByteSource;
  /** Its size in bytes, from the open handle. */
  readonly size: number;
}

/**
 * While an upload streams in, its data is flushed (`fdatasync`) in the background after every this
 * many bytes, so that the disk writes while the network delivers: otherwise the kernel keeps the
 * upload in the page cache and the final flush writes all of it while the client waits (a 1 GiB
 * upload spent 0.85 s of about 1.3 s in that final flush). Measured: 4, 16 and 64 MiB gave the same
 * 1 GiB backup rate (0.98-1.23 GiB/s); 4 MiB also spreads the disk's work for many concurrent 8 MiB
 * uploads (256 of them: 450-660 MiB/s against 330-490 without).
 */
export const FLUSH_EVERY_BYTES = 4 * 1024 * 1024;

/**
 * A replaced stored file at least this large is removed after the upload's answer is out: dropping a
 * cached 1 GiB file took 0.38 s inside `rename`, time the client would otherwise wait.
 */
export const RETIRE_LATER_BYTES = 8 * 1024 * 1024;

/** Renames an upload into place at most this many times while deletes keep removing its folders. */
const MOVE_ATTEMPTS = 5;

/**
 * Files per user id under one root directory. The only code that builds paths.
 *
 * Metadata calls (lstat, open, mkdir) are synchronous on purpose: they are answered from the
 * kernel's caches in microseconds, while each async call hops to a thread pool and back; profiling
 * 5,000 small retrieves per second showed async lstat alone taking a fifth of the server's CPU. Data
 * reads and writes go through `AdaptiveFile` (inline while the page cache answers). Renames,
 * removals and every fsync stay asynchronous: they can take long.
 *
 * Layout: `ROOT/<user id>/<name>` for stored files, `ROOT/.tmp/` for uploads in progress. Names must
 * have been validated (`validateName`): storage adds the defence against links planted on disk, refusing
 * to pass through or open a symbolic link anywhere under the root.
 */
export class Storage {
  readonly #root: string;
  readonly #tempDir: string;
  readonly #directorySyncs = new DirectorySyncs();
  readonly #background = new Set<Promise<void>>();
  readonly #cache: ReadCache | undefined;
  #slowDiskFiles = 0;
  readonly #countSlowDiskFile = () => void this.#slowDiskFiles++;

  private constructor(root: string, readCache: ReadCache | undefined) {
    this.#root = root;
    this.#tempDir = `${root}/${TEMP_DIR_NAME}`;
    this.#cache = readCache;
  }

  /**
   * Opens (creating if needed) the root, and removes temporary files a previous run left behind.
   *
   * @returns the storage and the number of leftover temporary files removed.
   * @throws {Error} saying which root is unusable and why (not a folder, not writable).
   */
  static async open(
    options: StorageOptions,
  ): Promise<{ storage: Storage; sweptTempFiles: number }> {
    const root = options.root.replace(/\/+$/, "") || "/";
    const storage = new Storage(root, options.readCache);
    try {
      await Deno.mkdir(root, { recursive: true });
      const sweptTempFiles = await storage.#sweepTempDir();
      return { storage, sweptTempFiles };
    } catch (error) {
      if (error instanceof Deno.errors.NotCapable) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(`the backup root ${root} is not usable: ${reason}`, { cause: error });
    }
  }

  /** The root directory. */
  get root(): string {
    return this.#root;
  }

  /** Storage's counters since start, for the stats line. */
  stats(): StorageStats {
    return {
      readCache: this.#cache?.stats() ?? { hits: 0, files: 0, bytes: 0 },
      slowDiskFiles: this.#slowDiskFiles,
    };
  }

  /** Resolves once the work storage does after answering (removing replaced files) is done. */
  async settled(): Promise<void> {
    while (this.#background.size > 0) await Promise.all(this.#background);
  }

  #inBackground(work: Promise<void>): void {
    this.#background.add(work);
    work.finally(() => this.#background.delete(work));
  }

  /** Starts an upload of `name` for `userId` into a fresh temporary file. */
  beginUpload(userId: number, name: string): Upload {
    const tempPath = `${this.#tempDir}/${crypto.randomUUID()}.part`;
    const file = Deno.openSync(tempPath, { write: true, createNew: true });
    const target = new AdaptiveFile(file, DEFAULT_POLICY, this.#countSlowDiskFile);
    const flusher = new BackgroundFlusher(file, FLUSH_EVERY_BYTES);
    let finished = false;
    const abort = async () => {
      if (finished) return;
      finished = true;
      await flusher.settled();
      file.close();
      await Deno.remove(tempPath).catch(ignoreNotFound);
    };
    const write = async (bytes: Uint8Array) => {
      await writeAll(target, bytes);
      flusher.wrote(bytes.length);
    };
    const commit = async () => {
      try {
        await flusher.finish();
      } catch (error) {
        await abort();
        throw error;
      }
      finished = true;
      file.close();
      try {
        await this.#moveIntoPlace(tempPath, userId, name);
      } catch (error) {
        await Deno.remove(tempPath).catch(ignoreNotFound);
        throw error;
      }
    };
    return { write, commit, abort };
  }

  /**
   * Opens a stored file for reading: from the read cache if it holds the file unchanged.
   *
   * @throws {FileNotFoundError} if there is no such file.
   * @throws {UnsafePathError} if a symbolic link or special file is in the way.
   */
  openForRead(userId: number, name: string): StoredFile {
    const cached = this.#fromCache(`${this.#userDir(userId)}/${name}`);
    if (cached) return inMemory(cached, cached.length);
    const { path, info: checked } = this.#existingFile(userId, name);
    const file = Deno.openSync(path, { read: true });
    try {
      const opened = file.statSync();
      // The check above and the open are two steps: a link swapped in between shows as another
      // inode. Another inode can also be an upload that replaced the file meanwhile, so a mismatch
      // is judged against the path as it is now.
      const onDisk = sameInode(opened, checked) ? checked : Deno.lstatSync(path);
      if (!opened.isFile || onDisk.isSymlink || !sameInode(opened, onDisk)) {
        throw new UnsafePathError(`${path} changed into a link or special file while being opened`);
      }
      if (this.#cache?.wants(path, opened)) {
        const bytes = readUpTo(file, opened.size);
        file.close();
        this.#cache.put(path, opened, bytes);
        return inMemory(bytes, opened.size); // a file that shrank meanwhile fails as it would unread
      }
      return {
        source: new AdaptiveFile(file, DEFAULT_POLICY, this.#countSlowDiskFile),
        size: opened.size,
        [Symbol.dispose]: () => file.close(),
      };
    } catch (error) {
      file.close();
      throw error;
    }
  }

  /**
   * The cached bytes of the file at `path` if the cache holds it and `lstat` shows it unchanged. A
   * hit skips the check of each folder on the way: the cached bytes were read through that check,
   * and a changed path (a link swapped in anywhere) leads to another inode, which misses.
   */
  #fromCache(path: string): Uint8Array | undefined {
    if (!this.#cache?.holds(path)) return undefined;
    let info: Deno.FileInfo | undefined;
    try {
      info = Deno.lstatSync(path);
    } catch {
      // gone or unreachable: the entry is dropped, and the full check reports why
    }
    return this.#cache.lookup(path, info);
  }

  /**
   * Deletes a stored file, and the folders its removal leaves empty. Resolves the size it had.
   *
   * @throws {FileNotFoundError} if there is no such file.
   * @throws {UnsafePathError} if a symbolic link or special file is in the way.
   */
  async delete(userId: number, name: string): Promise<number> {
    const { path, info } = this.#existingFile(userId, name);
    this.#cache?.forget(path);
    try {
      await Deno.remove(path); // asynchronous for the same reason as the rename in #moveIntoPlace
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) throw new FileNotFoundError(name);
      throw error;
    }
    const components = name.split("/");
    const userDir = this.#userDir(userId);
    for (let depth = components.length - 1; depth > 0; depth--) {
      const dir = `${userDir}/${components.slice(0, depth).join("/")}`;
      try {
        Deno.removeSync(dir);
      } catch {
        break; // not empty (or already gone): the folders above are not empty either
      }
    }
    await this.#directorySyncs.sync(parentOf(path)).catch(ignoreNotFound);
    return info.size;
  }

  /** The user's stored file names, in no particular order; empty if the user has none. */
  async list(userId: number): Promise<string[]> {
    const names: string[] = [];
    await this.#walk(userId, (name) => void names.push(name));
    return names;
  }

  /** Bytes the user's stored files take. */
  async usage(userId: number): Promise<number> {
    let total = 0;
    await this.#walk(
      userId,
      (_, path) => Deno.lstat(path).then((info) => void (total += info.size)),
    );
    return total;
  }

  /** The size of the stored file `name`, or 0 if there is none (or it is not a plain file). */
  storedSize(userId: number, name: string): number {
    try {
      return this.#existingFile(userId, name).info.size;
    } catch {
      return 0; // missing, or a link in the way: the upload will find out and fail on its own
    }
  }

  /** Calls `visit` for each regular file of the user. Links are never followed. */
  async #walk(
    userId: number,
    visit: (name: string, path: string) => void | Promise<void>,
  ): Promise<void> {
    const walk = async (dir: string, prefix: string) => {
      for await (const entry of Deno.readDir(dir)) {
        const path = `${dir}/${entry.name}`;
        if (entry.isFile) await visit(prefix + entry.name, path);
        else if (entry.isDirectory) await walk(path, `${prefix}${entry.name}/`);
      }
    };
    try {
      const userDir = this.#userDir(userId);
      if ((await Deno.lstat(userDir)).isDirectory) await walk(userDir, "");
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }

  #userDir(userId: number): string {
    return `${this.#root}/${userId}`;
  }

  /** An existing regular file: its path and `lstat`, after checking that no component is a link. */
  #existingFile(userId: number, name: string): { path: string; info: Deno.FileInfo } {
    let path = this.#userDir(userId);
    const components = name.split("/");
    for (let i = 0;; i++) {
      let info: Deno.FileInfo;
      try {
        info = Deno.lstatSync(path);
      } catch (error) {
        if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
          throw new FileNotFoundError(name);
        }
        throw error;
      }
      if (info.isSymlink) throw new UnsafePathError(`refusing symbolic link ${path}`);
      const isLast = i === components.length;
      if (isLast ? !info.isFile : !info.isDirectory) throw new FileNotFoundError(name);
      if (isLast) return { path, info };
      path += `/${components[i]}`;
    }
  }

  /** Creates the folders of `name` as needed (refusing links), renames the temp file in, syncs. */
  async #moveIntoPlace(tempPath: string, userId: number, name: string): Promise<void> {
    const components = name.split("/");
    const created: string[] = [];
    const dir = this.#makeFolders(userId, components, created);
    const finalPath = `${dir}/${components.at(-1)}`;
    this.#cache?.forget(finalPath);
    const existing = lstatOrUndefined(finalPath);
    if (existing?.isSymlink) throw new UnsafePathError(`refusing symbolic link ${finalPath}`);
    const retired = existing?.isFile && existing.size >= RETIRE_LATER_BYTES
      ? this.#keepLinkedInTemp(finalPath)
      : undefined;
    try {
      for (let attempt = 1;; attempt++) {
        try {
          // Asynchronous: a rename that drops the last link of a file frees its pages and blocks,
          // which takes long enough to stall every connection if done on the event loop.
          await Deno.rename(tempPath, finalPath);
          break;
        } catch (error) {
          // A delete that emptied one of the folders removes it; make it again and retry.
          if (!(error instanceof Deno.errors.NotFound) || attempt === MOVE_ATTEMPTS) throw error;
          this.#makeFolders(userId, components, created);
        }
      }
      // Durable means the directory entries too: the file's folder, and the parents of new folders.
      const toSync = new Set([dir, ...created.map(parentOf)]);
      await Promise.all([...toSync].map((folder) => this.#directorySyncs.sync(folder)));
    } finally {
      // The replaced version is removed in the background, while the upload is answered; a crash
      // leaves it to the start-up sweep.
      if (retired) this.#inBackground(Deno.remove(retired).catch(() => {}));
    }
  }

  /**
   * Makes the user's folder and the folders of `components` (all but the last) as needed, refusing
   * links; adds the ones it created to `created`. Returns the innermost folder.
   */
  #makeFolders(userId: number, components: string[], created: string[]): string {
    let dir = this.#userDir(userId);
    for (let i = 0; i < components.length; i++) {
      if (ensureDirectory(dir)) created.push(dir);
      if (i < components.length - 1) dir += `/${components[i]}`;
    }
    return dir;
  }

  /**
   * Links a file about to be replaced into the temp folder, so that the rename over it does not free
   * it. Returns the link's path, or `undefined` if linking failed (the rename then frees it).
   */
  #keepLinkedInTemp(path: string): string | undefined {
    const link = `${this.#tempDir}/${crypto.randomUUID()}.replaced`;
    try {
      Deno.linkSync(path, link);
      return link;
    } catch {
      return undefined;
    }
  }

  /** Empties the temp folder (creating it if needed) and proves the root is writable. */
  async #sweepTempDir(): Promise<number> {
    await Deno.mkdir(this.#tempDir, { recursive: true });
    const probe = `${this.#tempDir}/write-probe`;
    await Deno.writeFile(probe, new Uint8Array());
    await Deno.remove(probe);
    let swept = 0;
    for await (const entry of Deno.readDir(this.#tempDir)) {
      await Deno.remove(`${this.#tempDir}/${entry.name}`, { recursive: true });
      swept++;
    }
    return swept;
  }
}

/** Makes `dir` a real folder: creates it if missing; refuses a link or file. True if created. */
function ensureDirectory(dir: string): boolean {
  const info = lstatOrUndefined(dir);
  if (info?.isDirectory) return false;
  if (info) {
    throw new UnsafePathError(
      `${dir} is a ${info.isSymlink ? "symbolic link" : "file"}, expected a folder`,
    );
  }
  try {
    Deno.mkdirSync(dir);
    return true;
  } catch (error) {
    // Another upload may have made it meanwhile; accept it only if it is a real folder.
    if (error instanceof Deno.errors.AlreadyExists && Deno.lstatSync(dir).isDirectory) {
      return false;
    }
    throw error;
  }
}

/**
 * Flushes a file being written in the background, one `fdatasync` at a time, each after
 * `everyBytes` more bytes were written; `finish` makes every byte durable. A failed background flush
 * fails `finish`: after a failed fsync the kernel may already have dropped the unwritten pages, so a
 * later fsync that succeeds proves nothing.
 */
class BackgroundFlusher {
  readonly #file: Deno.FsFile;
  readonly #everyBytes: number;
  #unflushed = 0;
  #flushing: Promise<void> | undefined;
  #failure: { error: unknown } | undefined;

  constructor(file: Deno.FsFile, everyBytes: number) {
    this.#file = file;
    this.#everyBytes = everyBytes;
  }

  /** Counts `count` bytes written; starts a flush if enough are unflushed and none is running. */
  wrote(count: number): void {
    this.#unflushed += count;
    if (this.#unflushed < this.#everyBytes || this.#flushing || this.#failure) return;
    this.#unflushed = 0;
    this.#flushing = this.#file.syncData().then(
      () => void (this.#flushing = undefined),
      (error) => void (this.#failure = { error }, this.#flushing = undefined),
    );
  }

  /** Resolves once no background flush is running. Never rejects. */
  async settled(): Promise<void> {
    await this.#flushing;
  }

  /** Waits for a running flush, then flushes everything: resolves once all bytes are durable. */
  async finish(): Promise<void> {
    await this.#flushing;
    if (this.#failure) throw this.#failure.error;
    await this.#file.syncData();
  }
}

/**
 * Group commit for folder entries: concurrent uploads into one folder share its fsyncs. Each caller
 * gets a sync that starts after its call (so after its rename), which is all durability needs: while one
 * sync runs, every caller that arrives waits for the single next one.
 */
class DirectorySyncs {
  readonly #running = new Map<string, Promise<void>>();
  readonly #queued = new Map<string, Promise<void>>();

  sync(dir: string): Promise<void> {
    const queued = this.#queued.get(dir);
    if (queued) return queued;
    const running = this.#running.get(dir);
    if (!running) return this.#start(dir);
    const next = running.catch(() => {}).then(() => {
      this.#queued.delete(dir);
      return this.#start(dir);
    });
    this.#queued.set(dir, next);
    return next;
  }

  #start(dir: string): Promise<void> {
    const sync: Promise<void> = syncDirectory(dir).finally(() => {
      if (this.#running.get(dir) === sync) this.#running.delete(dir);
    });
    this.#running.set(dir, sync);
    return sync;
  }
}

/** Fsyncs a directory so that entries created or renamed in it survive a crash. */
export async function syncDirectory(dir: string): Promise<void> {
  if (Deno.build.os === "windows") return; // directories cannot be opened for fsync there
  const handle = Deno.openSync(dir, { read: true });
  try {
    await handle.sync();
  } finally {
    handle.close();
  }
}

/** A stored file served from memory. */
function inMemory(bytes: Uint8Array, size: number): StoredFile {
  return { source: bytesSource(bytes), size, [Symbol.dispose]: () => {} };
}

/** Reads `size` bytes from the start of a small file in one go; fewer if it ends early. */
function readUpTo(file: Deno.FsFile, size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  let filled = 0;
  while (filled < size) {
    const count = file.readSync(bytes.subarray(filled));
    if (!count) break;
    filled += count;
  }
  return bytes.subarray(0, filled);
}

function sameInode(a: Deno.FileInfo, b: Deno.FileInfo): boolean {
  return a.ino === b.ino && a.dev === b.dev;
}

function parentOf(path: string): string {
  return path.slice(0, path.lastIndexOf("/"));
}

function lstatOrUndefined(path: string): Deno.FileInfo | undefined {
  try {
    return Deno.lstatSync(path);
  } catch (error) {
    return ignoreNotFound(error);
  }
}

function ignoreNotFound(error: unknown): undefined {
  if (error instanceof Deno.errors.NotFound) return undefined;
  throw error;
}
