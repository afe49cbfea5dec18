/**
 * The embedded storage engine: one index per root (`node:sqlite`, WAL) that holds every version's
 * metadata and the bytes of small files; larger files' bytes in data files the server names. Group
 * commit: index changes are made on the event loop without an fsync, and `WalSync` makes many of
 * them durable with one fsync off the event loop before any of them is acknowledged.
 *
 * @module
 */
import { syncDirectory } from "../../io/durability.ts";
import type { FolderStore } from "../../objects/folder_store.ts";
import { DEFAULT_PACK_TARGET_BYTES } from "../../repository/pack_writer.ts";
import { ChunkHasher } from "../../repository/chunk_hasher.ts";
import { BackgroundWork } from "../background_work.ts";
import {
  DeleteRefusedError,
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
import { DataFiles } from "./data_files.ts";
import { type GarbageCollectionReport, sweepUnindexedPacks } from "./chunk_gc.ts";
import { Housekeeping } from "./housekeeping.ts";
import { openListing } from "./listing.ts";
import { ScratchBudget } from "./spool.ts";
import { openVersion } from "./reads.ts";
import { openVersionListing } from "./version_listing.ts";
import { IndexWrites } from "./index_writes.ts";
import { SmallFileCache } from "./small_file_cache.ts";
import { VersionIndex } from "./version_index.ts";
import { Uploader } from "./uploader.ts";
import { importV1Layout } from "./import_v1.ts";
import type { RootLock } from "./root_lock.ts";
import { openRoot, unusableRoot } from "./root_open.ts";
import { EmbeddedSnapshotStore } from "./snapshot_store.ts";
import type { SnapshotRepository } from "../snapshots.ts";
import {
  DEFAULT_INLINE_MAX_BYTES,
  DEFAULT_LIST_SCRATCH_BYTES,
  DEFAULT_PRUNE_INTERVAL_MS,
  DEFAULT_READ_CACHE_BYTES,
  type EmbeddedStorageOptions,
  INDEX_FILE_NAME,
  type OpenReport,
} from "./options.ts";
export * from "./options.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The embedded engine; see the module comment. */
export class EmbeddedStorage implements Storage {
  readonly #root: string;
  readonly #index: VersionIndex;
  readonly #indexPath: string;
  readonly #writes: IndexWrites;
  readonly #dataFiles: DataFiles;
  readonly #store: FolderStore;
  readonly #packTargetBytes: number;
  readonly #housekeeping: Housekeeping;
  readonly #hasher: ChunkHasher;
  readonly #appendOnlyOf: (userId: number) => boolean;
  readonly #inlineMaxBytes: number;
  readonly #now: () => number;
  readonly #onBackgroundError: (error: unknown) => void;
  readonly #uploader: Uploader;
  readonly #snapshots: EmbeddedSnapshotStore;
  readonly #cache: SmallFileCache;
  readonly #background = new BackgroundWork();
  readonly #scratchBudget: ScratchBudget;
  #rootLock: RootLock | undefined;
  #slowDiskFiles = 0;
  readonly #countSlowDiskFile = () => void this.#slowDiskFiles++;

  private constructor(
    root: string,
    index: VersionIndex,
    store: FolderStore,
    options: EmbeddedStorageOptions,
  ) {
    this.#root = root;
    this.#index = index;
    this.#store = store;
    this.#packTargetBytes = options.packTargetBytes ?? DEFAULT_PACK_TARGET_BYTES;
    this.#hasher = new ChunkHasher(options.hashWorkers);
    this.#indexPath = `${root}/${INDEX_FILE_NAME}`;
    this.#dataFiles = new DataFiles(root);
    const quotaBytes = options.quotaBytes ?? 0;
    this.#appendOnlyOf = options.appendOnlyOf ?? (() => false);
    this.#inlineMaxBytes = options.inlineMaxBytes ?? DEFAULT_INLINE_MAX_BYTES;
    this.#cache = new SmallFileCache(options.readCacheBytes ?? DEFAULT_READ_CACHE_BYTES);
    this.#scratchBudget = new ScratchBudget(options.listScratchBytes ?? DEFAULT_LIST_SCRATCH_BYTES);
    this.#now = options.now ?? Date.now;
    this.#onBackgroundError = options.onBackgroundError ?? (() => {});
    const onCommitStep = options.onCommitStep ?? (() => {});
    this.#writes = new IndexWrites(index, this.#indexPath, {
      now: () => this.#now(),
      onCheckpointError: (error) => this.#onBackgroundError(error),
      applied: (change) => {
        this.#cache.forget(change.userId, decoder.decode(change.name));
        return onCommitStep("indexed", change.userId, change.name);
      },
    });
    this.#uploader = new Uploader({
      index,
      writes: this.#writes,
      store,
      packTargetBytes: this.#packTargetBytes,
      hasher: this.#hasher,
      inlineMaxBytes: this.#inlineMaxBytes,
      quotaOf: options.quotaOf ?? (() => quotaBytes),
      now: () => this.#now(),
      onCommitStep,
      removeLater: (freed) => this.#removeLater(freed),
    });
    this.#housekeeping = new Housekeeping({
      index,
      writes: this.#writes,
      dataFiles: this.#dataFiles,
      store,
      packTargetBytes: this.#packTargetBytes,
      now: () => this.#now(),
      onGarbageStep: options.onGarbageStep,
      blobGraceMs: options.blobGraceMs,
    });
    this.#snapshots = new EmbeddedSnapshotStore({
      index,
      store,
      packTargetBytes: this.#packTargetBytes,
      durably: (change, size) => this.#writes.durably(change, size),
      now: () => this.#now(),
      quotaOf: options.quotaOf ?? (() => quotaBytes),
      appendOnlyOf: this.#appendOnlyOf,
      onCommitStep: options.onSnapshotCommitStep,
      collectGarbageNow: () => this.collectGarbageNow(),
    });
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
    const { root, index, store, rootLock } = await openRoot(options);
    let storage: EmbeddedStorage | undefined;
    try {
      storage = new EmbeddedStorage(root, index, store, options);
      storage.#rootLock = rootLock;
      await storage.#writes.syncLog(); // the schema, if new, and the log's entry in the root
      await syncDirectory(root);
      storage.#dataFiles.prepare();
      const orphansRemoved = await storage.#dataFiles.sweepOrphans((name) =>
        index.references(name)
      ) + await sweepUnindexedPacks(store, index);
      const opened = storage;
      const imported = await importV1Layout({
        root,
        index,
        dataFiles: opened.#dataFiles,
        inlineMaxBytes: opened.#inlineMaxBytes,
        durably: (change, size) => opened.#writes.durably(change, size),
      });
      opened.#background.repeat(
        () => opened.prune().catch(opened.#onBackgroundError),
        options.pruneIntervalMs ?? DEFAULT_PRUNE_INTERVAL_MS,
      );
      return { storage: opened, report: { orphansRemoved, imported } };
    } catch (error) {
      if (storage) {
        storage.#hasher.close();
        await storage.#writes.close();
      }
      index.close();
      rootLock.release();
      throw unusableRoot(root, error);
    }
  }

  /** The root directory. */
  get location(): string {
    return this.#root;
  }

  /** Starts an upload; see `Storage.beginUpload`. */
  // deno-lint-ignore require-await -- async so that a refusal rejects rather than throws
  async beginUpload(userId: number, name: string, options: PutOptions): Promise<Upload> {
    return this.#uploader.begin(userId, name, options);
  }

  /** Opens the current or a given version of a file; see `Storage.open`. */
  open(userId: number, name: string, versionId?: number): Promise<StoredFile> {
    const ctx = {
      index: this.#index,
      dataFiles: this.#dataFiles,
      store: this.#store,
      hasher: this.#hasher,
      cache: this.#cache,
      countSlowDiskFile: this.#countSlowDiskFile,
    };
    return openVersion(ctx, { userId, name, versionId });
  }

  /** Deletes a file's current version; see `Storage.delete`. */
  async delete(userId: number, name: string): Promise<void> {
    if (this.#appendOnlyOf(userId)) throw new DeleteRefusedError(name);
    const freed = await this.#writes.durably(() => {
      const freed = this.#index.delete(userId, encoder.encode(name), this.#now(), name);
      this.#cache.forget(userId, name);
      return freed;
    }, { changes: 1, bytes: 0 });
    this.#removeLater(freed);
  }

  /** Lists current names; see `Storage.list`. */
  list(userId: number, prefix = ""): Promise<FileListing> {
    const scratch = () => this.#dataFiles.scratch();
    const name = encoder.encode(prefix);
    return Promise.resolve(
      openListing(this.#indexPath, userId, name, scratch, this.#scratchBudget),
    );
  }

  /** Bytes of scratch files lists hold now (at most the `listScratchBytes` budget). */
  get listScratchBytes(): number {
    return this.#scratchBudget.used;
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
      groupCommits: this.#writes.stats(),
      readCache: this.#cache.stats(),
      slowDiskFiles: this.#slowDiskFiles,
    };
  }

  /**
   * Removes the past versions that retention no longer keeps, in batches, then collects garbage
   * (`housekeeping.ts`).
   *
   * @returns how many versions were removed.
   */
  prune(): Promise<number> {
    return this.#housekeeping.prune();
  }

  /** See `Housekeeping.collectGarbage`. */
  collectGarbage(): Promise<GarbageCollectionReport> {
    return this.#housekeeping.collectGarbage();
  }

  /** See `Housekeeping.collectGarbageNow` (a user's `Prune`). */
  collectGarbageNow(): Promise<GarbageCollectionReport[]> {
    return this.#housekeeping.collectGarbageNow();
  }

  /** Resolves once removals and prunes started so far are done. */
  settled(): Promise<void> {
    return this.#background.settled();
  }

  /** Snapshots (protocol version 3): `snapshot_store.ts`. */
  get snapshots(): SnapshotRepository {
    return this.#snapshots;
  }

  /** Stops pruning, waits for background work, closes the index. */
  async close(): Promise<void> {
    this.#background.stop();
    await this.#snapshots.close();
    await this.settled();
    this.#hasher.close();
    await this.#writes.close();
    this.#index.close();
    this.#rootLock?.release();
  }

  #removeLater(dataFiles: string[]): void {
    if (dataFiles.length > 0) this.#background.track(this.#dataFiles.remove(dataFiles));
  }
}
