/**
 * The S3 backend: every version is a record object whose key holds its metadata (`keys.ts`), its
 * bytes in the record (zstd-compressed when that pays), in a data object, or (with `chunkFiles`)
 * in chunks in the user's packs, which the record lists (`chunking.ts`); the store's listing is the
 * index. Any number of servers may share a bucket: nothing is kept between requests but a quota
 * estimate and, for the write path only, the names this server stored lately (`RecentNames`) and
 * the chunks it knows each user has (`DedupCache`; see docs/storage.md for what each costs and
 * what is not exact across servers).
 *
 * @module
 */
import { NameRefusedError } from "../errors.ts";
import {
  type EntriesQuery,
  type FileListing,
  type FileMetadata,
  type PutOptions,
  ReplaceRefusedError,
  type Storage,
  type StorageStats,
  type StoredFile,
  type Upload,
  type VersionListing,
} from "../storage.ts";
import { S3Client } from "../../objects/s3/s3_client.ts";
import {
  DEFAULT_PART_SIZE,
  DEFAULT_PARTS_IN_FLIGHT,
  DEFAULT_S3_PACK_TARGET_BYTES,
  type S3OpenReport,
  type S3StorageOptions,
} from "./options.ts";
export * from "./options.ts";
import { dataKey, longestRecordKeyBytes, MAX_KEY_BYTES } from "./keys.ts";
import { metadataOf } from "./histories.ts";
import { listUsage } from "./usage_listing.ts";
import { currentRecord, latestOf, openStored } from "./reads.ts";
import { listEntries, listNames, type ListScope, listVersions } from "./listings.ts";
import { recordChargeOf, UsageEstimates } from "./quota.ts";
import { MemoryBudget, s3Upload } from "./uploads.ts";
import { abortStaleUploads, pruneAll } from "./maintenance.ts";
import type { CommitContext } from "./commits.ts";
import { RecentNames } from "./recent_names.ts";
import { RecordWrites } from "./record_writes.ts";
import { refusesReplace } from "../retention.ts";
import { BackgroundWork } from "../background_work.ts";
import { S3ObjectStore } from "../../objects/s3_store.ts";
import { S3Chunking } from "./chunking.ts";
import { ChunkGcRuns } from "./gc_runs.ts";
import { S3SnapshotStore } from "./snapshot_store.ts";
import type { SnapshotRepository } from "../snapshots.ts";

/** The S3 backend; see the module comment. */
export class S3Storage implements Storage {
  readonly #client: S3Client;
  readonly #prefix: string;
  readonly #options: S3StorageOptions;
  readonly #hk: CommitContext;
  readonly #budget: MemoryBudget;
  readonly #usage: UsageEstimates;
  readonly #background = new BackgroundWork();
  readonly #now: () => number;
  /** Commits and deletions of file records. */
  readonly #writes: RecordWrites;
  /** The bucket as an object store: packs and index objects, below the prefix. */
  readonly #objects: S3ObjectStore;
  /** Set with `chunkFiles`: what chunked uploads write with and deduplicate against. */
  readonly #chunking?: S3Chunking;
  /** Set with `chunkFiles`: snapshots (protocol version 3) in the same packs. */
  readonly #snapshots?: S3SnapshotStore;
  /** This server's garbage collection runs (`gc_runs.ts`). */
  readonly #gc: ChunkGcRuns;

  private constructor(options: S3StorageOptions) {
    this.#options = options;
    this.#client = new S3Client(options.location, options.onRequest);
    this.#prefix = options.prefix ?? "";
    this.#now = options.now ?? Date.now;
    this.#budget = new MemoryBudget(options.memoryBytes ?? 128 * 1024 * 1024);
    this.#usage = new UsageEstimates(
      (userId) => this.usage(userId),
      options.quotaOf ?? (() => 0),
      options.usageTtlMs ?? 30_000,
    );
    this.#objects = new S3ObjectStore({ client: this.#client, prefix: this.#prefix });
    if (options.chunkFiles) {
      this.#chunking = new S3Chunking(this.#client, this.#objects, this.#budget, options);
      this.#snapshots = new S3SnapshotStore({
        client: this.#client,
        prefix: this.#prefix,
        objects: this.#objects,
        packStore: this.#chunking.packStore,
        view: this.#chunking.view,
        packTargetBytes: options.packTargetBytes ?? DEFAULT_S3_PACK_TARGET_BYTES,
        cacheBytes: options.dedupCacheBytes,
        refreshMs: options.dedupRefreshMs,
        pinIntervalMs: options.gc?.pinIntervalMs,
        clock: options.gc?.clock,
        checkQuota: (userId, adding) => this.#usage.check(userId, adding),
        stored: (userId, bytes) => this.#usage.stored(userId, bytes),
        appendOnlyOf: options.appendOnlyOf ?? (() => false),
        now: this.#now,
        onError: options.onBackgroundError,
        collectGarbageNow: () => this.#gc.collectNow(),
        pruneGapMs: options.pruneGapMs,
        usage: (userId) => this.usage(userId),
      });
    }
    this.#hk = {
      client: this.#client,
      prefix: this.#prefix,
      retention: { keepDays: 30, ...options.retention },
      appendOnlyOf: options.appendOnlyOf ?? (() => false),
      now: this.#now,
      usage: this.#usage,
    };
    this.#writes = new RecordWrites({
      hk: this.#hk,
      recent: new RecentNames({
        ttlMs: options.recentNamesTtlMs ?? 30_000,
        maxNames: options.recentNamesMax ?? 10_000,
      }),
      background: this.#background,
      onBackgroundError: options.onBackgroundError,
    });
    this.#gc = new ChunkGcRuns({ hk: this.#hk, options });
  }

  /**
   * Connects: creates the bucket if missing, aborts the multipart uploads a previous run left,
   * starts background pruning.
   *
   * @throws {S3Error} if the store cannot be reached or refuses the credentials.
   */
  static async open(
    options: S3StorageOptions,
  ): Promise<{ storage: S3Storage; report: S3OpenReport }> {
    const storage = new S3Storage(options);
    let staleUploadsAborted;
    try {
      await storage.#client.ensureBucket();
      staleUploadsAborted = await abortStaleUploads(
        storage.#hk,
        options.serverTag,
        options.staleUploadMs ?? 86_400_000,
      );
    } catch (error) {
      await storage.close(); // the tombstone view's refreshes have started
      throw error;
    }
    storage.#background.repeat(
      () => storage.prune().catch((error) => options.onBackgroundError?.(error)),
      options.pruneIntervalMs ?? 600_000,
    );
    return { storage, report: { staleUploadsAborted } };
  }

  /** The bucket and prefix. */
  get location(): string {
    const { endpoint, bucket } = this.#options.location;
    return `s3:${endpoint}/${bucket}/${this.#prefix}`;
  }

  /**
   * Snapshots (protocol version 3, `snapshot_store.ts`): with `chunkFiles` only, since they live in
   * packs, which garbage collection marks from the snapshots' roots (`snapshot_mark.ts`).
   */
  get snapshots(): SnapshotRepository | undefined {
    return this.#snapshots;
  }

  /** Whether the store answers (for health checks). */
  healthy(): Promise<boolean> {
    return this.#client.healthy();
  }

  /** Starts an upload; see `Storage.beginUpload`. */
  async beginUpload(userId: number, name: string, options: PutOptions): Promise<Upload> {
    if (longestRecordKeyBytes(this.#prefix, userId, name) > MAX_KEY_BYTES) {
      throw new NameRefusedError("too long for an object key of this store");
    }
    if (this.#refusesReplace(userId) && await this.stat(userId, name)) {
      throw new ReplaceRefusedError(name);
    }
    const release = await this.#usage.reserve(userId, options.size + recordChargeOf(name));
    try {
      if (this.#chunking?.takes(options.size)) {
        return await this.#chunking.begin(userId, name, options.size, {
          commit: (sha256, stored) => this.#writes.commit(userId, name, options, sha256, stored),
          background: (work) =>
            this.#background.track(work.catch((error) => this.#options.onBackgroundError?.(error))),
          release,
        });
      }
      return await s3Upload({
        client: this.#client,
        fileName: name,
        size: options.size,
        partSize: this.#options.partSize ?? DEFAULT_PART_SIZE,
        partsInFlight: this.#options.partsInFlight ?? DEFAULT_PARTS_IN_FLIGHT,
        budget: this.#budget,
        newData: () => {
          const dataId = `${this.#options.serverTag}.${crypto.randomUUID()}`;
          return { dataId, key: dataKey(this.#prefix, userId, dataId) };
        },
        commit: (sha256, stored) => this.#writes.commit(userId, name, options, sha256, stored),
        release,
      });
    } catch (error) {
      release();
      throw error;
    }
  }

  /** Opens the current or a given version; see `Storage.open`. */
  open(userId: number, name: string, versionId?: number): Promise<StoredFile> {
    return openStored(this.#scope(userId), { name, versionId }, this.#objects);
  }

  /** Deletes a file's current version; see `Storage.delete`. */
  delete(userId: number, name: string): Promise<void> {
    return this.#writes.delete(userId, name);
  }

  /** Lists current names; see `Storage.list`. */
  list(userId: number, prefix = ""): Promise<FileListing> {
    return listNames(this.#scope(userId), prefix, this.#now());
  }

  /** Lists files with metadata, now or at a time; see `Storage.entries`. */
  entries(userId: number, query: EntriesQuery = {}): Promise<VersionListing> {
    const atMs = query.atMs ?? this.#now();
    return Promise.resolve(listEntries(this.#scope(userId), query.prefix ?? "", atMs));
  }

  /** Lists every version of a name; see `Storage.versions`. */
  versions(userId: number, name: string): Promise<VersionListing> {
    return Promise.resolve(listVersions(this.#scope(userId), name));
  }

  /** A current version's metadata; see `Storage.stat`. */
  async stat(userId: number, name: string): Promise<FileMetadata | undefined> {
    const record = currentRecord(await latestOf(this.#scope(userId), name));
    return record && metadataOf(record);
  }

  /** Bytes of the user's versions, listed now. */
  async usage(userId: number): Promise<number> {
    const bytes = await listUsage(
      { client: this.#client, prefix: this.#prefix, objects: this.#objects },
      userId,
    );
    this.#usage.listed(userId, bytes);
    return bytes;
  }

  /**
   * Removes what retention no longer keeps, in every user's files; see `Storage.prune`. Then, if
   * this server takes the prune lock, collects the packs no record and no upload needs any more
   * (`runChunkGc`; whatever `chunkFiles` says, since packs outlive the option).
   */
  async prune(): Promise<number> {
    const removed = await pruneAll(this.#hk);
    this.#usage.forget();
    await this.#gc.collect();
    this.#usage.forget();
    return removed;
  }

  /** Counters since start: records stored count as commits, one change each. */
  stats(): StorageStats {
    return {
      groupCommits: { commits: this.#writes.records, changes: this.#writes.records },
      readCache: { hits: 0, files: 0, bytes: 0 },
      slowDiskFiles: 0,
    };
  }

  /** Resolves once background removals are done. */
  settled(): Promise<void> {
    return this.#background.settled();
  }

  /** Stops pruning and waits for background work. */
  async close(): Promise<void> {
    this.#background.stop();
    await this.#snapshots?.close();
    await this.settled();
    await this.#chunking?.close();
  }

  /** Whether a replace by `userId` is refused now (see `refusesReplace`). */
  #refusesReplace(userId: number): boolean {
    return refusesReplace(this.#hk.retention, this.#hk.appendOnlyOf(userId));
  }

  #scope(userId: number): ListScope {
    return { client: this.#client, prefix: this.#prefix, userId };
  }
}
