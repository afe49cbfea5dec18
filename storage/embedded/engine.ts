/**
 * The embedded storage engine: one index per root (`node:sqlite`, WAL) that holds every version's
 * metadata and the bytes of small files; larger files' bytes in data files the server names. Group
 * commit: index changes are made on the event loop without an fsync, and `WalSync` makes many of
 * them durable with one fsync off the event loop before any of them is acknowledged.
 *
 * @module
 */
import { DeleteRefusedError, UnsafePathError } from "../storage.ts";
import { ReplaceRefusedError } from "../storage.ts";
import { DirectorySyncs, syncDirectory } from "../durability.ts";
import {
  type EntriesQuery,
  type FileListing,
  type FileMetadata,
  type PutOptions,
  type Storage,
  type StorageStats,
  type StoredFile,
  type Upload,
  type VersionListing,
} from "../storage.ts";
export { FLUSH_EVERY_BYTES } from "./uploads.ts";
import { DataFiles } from "./data_files.ts";
import { openListing } from "./listing.ts";
import { openVersion } from "./reads.ts";
import { openVersionListing } from "./version_listing.ts";
import { CommitQueue } from "./commit_queue.ts";
import { Checkpoints } from "./checkpoints.ts";
import { SmallFileCache } from "./small_file_cache.ts";
import { type Content, VersionIndex } from "./version_index.ts";
import { dataFileUpload, inlineUpload, type UploadEnds } from "./uploads.ts";
import { WalSync } from "./wal_sync.ts";
import { importV1Layout } from "./import_v1.ts";
import { QuotaReservations } from "./quota_reservations.ts";
import {
  DEFAULT_INLINE_MAX_BYTES,
  DEFAULT_KEEP_DAYS,
  DEFAULT_PRUNE_INTERVAL_MS,
  DEFAULT_READ_CACHE_BYTES,
  type EmbeddedStorageOptions,
  INDEX_FILE_NAME,
  type OpenReport,
} from "./options.ts";
export * from "./options.ts";

/** Past versions removed per pruning transaction. */
const PRUNE_BATCH = 500;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The embedded engine; see the module comment. */
export class EmbeddedStorage implements Storage {
  readonly #root: string;
  readonly #index: VersionIndex;
  readonly #indexPath: string;
  readonly #walSync: WalSync;
  readonly #dataFiles: DataFiles;
  readonly #directorySyncs = new DirectorySyncs();
  readonly #quotaOf: (userId: number) => number;
  readonly #appendOnlyOf: (userId: number) => boolean;
  readonly #inlineMaxBytes: number;
  readonly #now: () => number;
  readonly #onBackgroundError: (error: unknown) => void;
  readonly #onCommitStep: NonNullable<EmbeddedStorageOptions["onCommitStep"]>;
  readonly #reservations: QuotaReservations;
  readonly #cache: SmallFileCache;
  readonly #commits: CommitQueue;
  readonly #checkpoints: Checkpoints;
  readonly #background = new Set<Promise<unknown>>();
  #pruneTimer: ReturnType<typeof setInterval> | undefined;
  #slowDiskFiles = 0;
  readonly #countSlowDiskFile = () => void this.#slowDiskFiles++;

  private constructor(root: string, index: VersionIndex, options: EmbeddedStorageOptions) {
    this.#root = root;
    this.#index = index;
    this.#indexPath = `${root}/${INDEX_FILE_NAME}`;
    this.#walSync = new WalSync(this.#indexPath);
    this.#checkpoints = new Checkpoints(
      index,
      this.#indexPath,
      (error) => this.#onBackgroundError(error),
    );
    this.#dataFiles = new DataFiles(root);
    const quotaBytes = options.quotaBytes ?? 0;
    this.#quotaOf = options.quotaOf ?? (() => quotaBytes);
    this.#appendOnlyOf = options.appendOnlyOf ?? (() => false);
    this.#inlineMaxBytes = options.inlineMaxBytes ?? DEFAULT_INLINE_MAX_BYTES;
    this.#reservations = new QuotaReservations(index, this.#quotaOf);
    this.#cache = new SmallFileCache(options.readCacheBytes ?? DEFAULT_READ_CACHE_BYTES);
    this.#now = options.now ?? Date.now;
    this.#onBackgroundError = options.onBackgroundError ?? (() => {});
    this.#onCommitStep = options.onCommitStep ?? (() => {});
    this.#commits = new CommitQueue(
      index,
      this.#walSync,
      this.#checkpoints,
      () => this.#now(),
      (change) => {
        this.#cache.forget(change.userId, decoder.decode(change.name));
        return this.#onCommitStep("indexed", change.userId, change.name);
      },
    );
  }

  /**
   * Opens (creating if needed) a root: the index, the data folders; removes orphan data files;
   * imports a root in the version 1 layout; starts background pruning.
   *
   * @throws {Error} saying which root is unusable and why.
   */
  static async open(
    options: EmbeddedStorageOptions,
  ): Promise<{ storage: EmbeddedStorage; report: OpenReport }> {
    const root = options.root.replace(/\/+$/, "") || "/";
    let index: VersionIndex | undefined;
    let storage: EmbeddedStorage | undefined;
    try {
      await Deno.mkdir(root, { recursive: true });
      const indexPath = `${root}/${INDEX_FILE_NAME}`;
      for (const path of [indexPath, `${indexPath}-wal`, `${indexPath}-shm`]) {
        if (isLink(path)) throw new UnsafePathError(`refusing symbolic link ${path}`);
      }
      index = new VersionIndex(indexPath, {
        keepDays: options.retention?.keepDays ?? DEFAULT_KEEP_DAYS,
        keepVersions: options.retention?.keepVersions,
      }, options.appendOnlyOf);
      storage = new EmbeddedStorage(root, index, options);
      await storage.#walSync.durable(0); // the schema, if new, and the log's entry in the root
      await syncDirectory(root);
      storage.#dataFiles.prepare();
      const orphansRemoved = await storage.#dataFiles.sweepOrphans((name) =>
        index!.references(name)
      );
      const opened = storage;
      const imported = await importV1Layout({
        root,
        index,
        dataFiles: opened.#dataFiles,
        inlineMaxBytes: opened.#inlineMaxBytes,
        durably: (change, size) => opened.#durably(change, size),
      });
      opened.#startPruning(options.pruneIntervalMs ?? DEFAULT_PRUNE_INTERVAL_MS);
      return { storage: opened, report: { orphansRemoved, imported } };
    } catch (error) {
      if (storage) storage.#walSync.close();
      index?.close();
      if (error instanceof Deno.errors.NotCapable) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(`the backup root ${root} is not usable: ${reason}`, { cause: error });
    }
  }

  /** The root directory. */
  get location(): string {
    return this.#root;
  }

  /** Starts an upload; see `Storage.beginUpload`. */
  // deno-lint-ignore require-await -- async so that a refusal rejects rather than throws
  async beginUpload(userId: number, name: string, options: PutOptions): Promise<Upload> {
    const key = encoder.encode(name);
    if (this.#index.refusesReplace(userId) && this.#index.stat(userId, key)) {
      throw new ReplaceRefusedError(name);
    }
    const reserved = this.#reservations.reserve(userId, key, options.size);
    const target = { userId, key };
    const ends: UploadEnds = {
      fileName: name,
      release: () => this.#reservations.release(userId, reserved),
      commit: (sha256, content) => this.#commit(target, options, sha256, content),
    };
    try {
      return options.size <= this.#inlineMaxBytes
        ? inlineUpload(options.size, ends)
        : dataFileUpload(options.size, ends, {
          dataFiles: this.#dataFiles,
          directorySyncs: this.#directorySyncs,
          countSlowDiskFile: this.#countSlowDiskFile,
          onDataDurable: () => this.#onCommitStep("data-durable", userId, key),
        });
    } catch (error) {
      ends.release();
      throw error;
    }
  }

  /** Opens the current or a given version of a file; see `Storage.open`. */
  open(userId: number, name: string, versionId?: number): Promise<StoredFile> {
    const ctx = {
      index: this.#index,
      dataFiles: this.#dataFiles,
      cache: this.#cache,
      countSlowDiskFile: this.#countSlowDiskFile,
    };
    return openVersion(ctx, { userId, name, versionId });
  }

  /** Deletes a file's current version; see `Storage.delete`. */
  async delete(userId: number, name: string): Promise<void> {
    if (this.#appendOnlyOf(userId)) throw new DeleteRefusedError(name);
    const freed = await this.#durably(() => {
      const freed = this.#index.delete(userId, encoder.encode(name), this.#now(), name);
      this.#cache.forget(userId, name);
      return freed;
    }, { changes: 1, bytes: 0 });
    this.#removeLater(freed);
  }

  /** Lists current names; see `Storage.list`. */
  list(userId: number, prefix = ""): Promise<FileListing> {
    const scratch = () => this.#dataFiles.scratch();
    return Promise.resolve(openListing(this.#indexPath, userId, encoder.encode(prefix), scratch));
  }

  /** Lists versions with metadata under a prefix, now or at a time; see `Storage.entries`. */
  entries(userId: number, query: EntriesQuery = {}): Promise<VersionListing> {
    const prefix = encoder.encode(query.prefix ?? "");
    return Promise.resolve(openVersionListing(
      this.#indexPath,
      query.atMs === undefined
        ? { kind: "current", userId, prefix }
        : { kind: "at", userId, prefix, atMs: query.atMs },
    ));
  }

  /** Lists every version of a name; see `Storage.versions`. */
  versions(userId: number, name: string): Promise<VersionListing> {
    return Promise.resolve(
      openVersionListing(this.#indexPath, { kind: "versions", userId, name: encoder.encode(name) }),
    );
  }

  /** A current version's metadata; see `Storage.stat`. */
  stat(userId: number, name: string): Promise<FileMetadata | undefined> {
    return Promise.resolve(this.#index.stat(userId, encoder.encode(name)));
  }

  /** Bytes against the quota; see `Storage.usage`. */
  usage(userId: number): Promise<number> {
    return Promise.resolve(this.#index.usage(userId));
  }

  /** Whether the index can be reached: the root is mounted and readable. */
  async healthy(): Promise<boolean> {
    try {
      return (await Deno.stat(this.#indexPath)).isFile;
    } catch {
      return false;
    }
  }

  /** Counters since start. */
  stats(): StorageStats {
    return {
      groupCommits: this.#walSync.stats(),
      readCache: this.#cache.stats(),
      slowDiskFiles: this.#slowDiskFiles,
    };
  }

  /**
   * Removes the past versions that retention no longer keeps, in batches.
   *
   * @returns how many versions were removed.
   */
  async prune(): Promise<number> {
    let total = 0;
    for (;;) {
      const { freed, removed } = await this.#durably(
        () => this.#index.prune(this.#now(), PRUNE_BATCH),
        (pruned) => ({ changes: pruned.removed, bytes: 0 }),
      );
      total += removed;
      await this.#dataFiles.remove(freed);
      if (removed < PRUNE_BATCH) return total;
    }
  }

  /** Resolves once removals and prunes started so far are done. */
  async settled(): Promise<void> {
    while (this.#background.size > 0) await Promise.all(this.#background);
  }

  /** Stops pruning, waits for background work, closes the index. */
  async close(): Promise<void> {
    clearInterval(this.#pruneTimer);
    await this.settled();
    await this.#checkpoints.close();
    this.#walSync.close();
    this.#index.close();
  }

  /** Makes an upload whose bytes are in place the current version, durably. */
  async #commit(
    { userId, key }: Target,
    options: PutOptions,
    sha256: Uint8Array,
    content: Content,
  ): Promise<FileMetadata> {
    const now = this.#now();
    const metadata: FileMetadata = {
      versionId: 0,
      size: options.size,
      mtimeMs: options.mtimeMs ?? now,
      mode: options.mode ?? null,
      sha256,
      storedMs: now,
    };
    const freed = await this.#commits.put({
      userId,
      name: key,
      metadata,
      content,
      quotaBytes: this.#quotaOf(userId),
    });
    await this.#onCommitStep("durable", userId, key);
    this.#removeLater(freed);
    return metadata;
  }

  /**
   * Makes one change of the index (a synchronous transaction) durable: after the last checkpoint's
   * fsync, before the fsync of the log that follows it. Uploads go through `CommitQueue` instead,
   * which does the same for many at once.
   *
   * @param size how much the change wrote, for the next checkpoint
   */
  async #durably<T>(
    change: () => T,
    size: { changes: number; bytes: number } | ((result: T) => { changes: number; bytes: number }),
  ): Promise<T> {
    await this.#checkpoints.writable();
    const result = change();
    const { changes, bytes } = typeof size === "function" ? size(result) : size;
    if (changes === 0) return result;
    await this.#walSync.durable(changes);
    this.#checkpoints.committed(changes, bytes);
    return result;
  }

  #removeLater(dataFiles: string[]): void {
    if (dataFiles.length > 0) this.#inBackground(this.#dataFiles.remove(dataFiles));
  }

  #inBackground(work: Promise<unknown>): void {
    this.#background.add(work);
    work.finally(() => this.#background.delete(work));
  }

  #startPruning(intervalMs: number): void {
    const prune = () => this.#inBackground(this.prune().catch(this.#onBackgroundError));
    prune();
    if (intervalMs > 0) this.#pruneTimer = setInterval(prune, intervalMs);
  }
}

/** The name an upload goes to, as the index's key. */
interface Target {
  userId: number;
  key: Uint8Array;
}

function isLink(path: string): boolean {
  try {
    return Deno.lstatSync(path).isSymlink;
  } catch {
    return false;
  }
}
