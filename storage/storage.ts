/**
 * The storage interface the server sees: put a stream atomically and durably with its metadata, get,
 * delete, list a prefix as a stream, stat. The embedded engine (`storage/embedded/`) implements it;
 * another backend (object storage) implements the same.
 *
 * Names given to storage have been validated (`validateName`); storage treats them as keys, never as
 * paths.
 *
 * @module
 */
import type { ByteSource } from "../io/byte_stream.ts";
import type { SnapshotRepository } from "./snapshots.ts";

/** What storage keeps about a stored file besides its bytes. */
export interface FileMetadata {
  /** The version's id in its store, unique per user and name; 0 until the upload is committed. */
  versionId: number;
  /** Size in bytes. */
  size: number;
  /** Modification time the client sent (milliseconds since the epoch); for v1, the time of upload. */
  mtimeMs: number;
  /** Unix mode bits the client sent, or `null` when it sent none (v1). */
  mode: number | null;
  /** SHA-256 of the bytes, computed by the server as they arrived. */
  sha256: Uint8Array;
  /** When the server stored it (milliseconds since the epoch). */
  storedMs: number;
}

/** What an upload declares up front. */
export interface PutOptions {
  /** Exact size of the payload in bytes. */
  size: number;
  /** Modification time to record; default: now. */
  mtimeMs?: number;
  /** Mode bits to record; default: none. */
  mode?: number;
}

/** What the client says the payload's digest is: checked before anything is stored. */
export interface CommitOptions {
  /** The SHA-256 the client computed; a different one gets `DigestMismatchError`. */
  sha256?: Uint8Array;
}

/** An upload in progress; nothing is visible until `commit` resolves. */
export interface Upload {
  /** Takes the next bytes of the payload (the caller may reuse `bytes` once this resolves). */
  write(bytes: Uint8Array): Promise<void>;
  /**
   * Makes the upload durable and the current version of its name, atomically.
   *
   * @throws {QuotaExceededError} if storing it would pass the user's quota.
   * @throws {DigestMismatchError} if the bytes' SHA-256 is not `options.sha256` (nothing stored).
   * @throws {ReplaceRefusedError} if the name has a current version, the user is append-only
   *   and retention keeps no past version (`--keep-days 0`): the replace would destroy it.
   */
  commit(options?: CommitOptions): Promise<FileMetadata>;
  /** Drops the upload; the stored version (if any) is untouched. Safe to call more than once. */
  abort(): Promise<void>;
}

/** A stored file opened for reading. */
export interface StoredFile extends Disposable {
  /** Its bytes, from the start. */
  readonly source: ByteSource;
  /** Its metadata; `size` is exactly what `source` yields. */
  readonly metadata: FileMetadata;
}

/**
 * A user's current names in bytewise order, as of one moment: `files` and `nameBytes` describe
 * exactly what `pages` yields. Dispose of it (or iterate to the end) to release the moment.
 */
export interface FileListing extends Disposable {
  /** How many names. */
  readonly files: number;
  /** Their total length in bytes (UTF-8). */
  readonly nameBytes: number;
  /** The names (UTF-8 bytes), each followed by `\n` (never part of a name), a page at a time. */
  readonly pages: AsyncIterable<Uint8Array>;
}

/** One version of a file, as lists of versions and lists at a point in time give it. */
export interface VersionRecord extends FileMetadata {
  /** The name, as UTF-8 bytes. */
  name: Uint8Array;
  /** When it stopped being current, or `null` while it is. */
  endedMs: number | null;
  /** True when it ended because the file was deleted. */
  deleted: boolean;
}

/**
 * Versions as of one moment of the store, a page at a time (bounded memory however many there
 * are). Dispose of it (or iterate to the end) to release the moment.
 */
export interface VersionListing extends Disposable {
  /** The versions, in the order the call promises. */
  readonly pages: AsyncIterable<VersionRecord[]>;
}

/** What `Storage.entries` lists. */
export interface EntriesQuery {
  /** Only names starting with these bytes' text; `""` for all. @default "" */
  prefix?: string;
  /** The files as they were at this time (milliseconds since the epoch); absent: now. */
  atMs?: number;
}

/** Storage's counters, for the stats line. */
export interface StorageStats {
  /** Commits made durable, and how many uploads and deletes they carried. */
  groupCommits: { commits: number; changes: number };
  /** Retrieves served from memory, and what the read cache holds now. */
  readCache: { hits: number; files: number; bytes: number };
  /**
   * Uploads and retrieves whose file calls turned slow (the disk answered, not the page cache) and
   * moved to Deno's thread pool (see `AdaptiveFile`): a count that keeps rising means the disk sets
   * the pace.
   */
  slowDiskFiles: number;
}

/** Files per user id. */
export interface Storage {
  /** Where it stores, for the log. */
  readonly location: string;
  /**
   * Snapshots (protocol version 3, `./snapshots.ts`); a store without them answers a v3 session
   * that it keeps none.
   */
  readonly snapshots?: SnapshotRepository;
  /**
   * Starts an upload of `name` for `userId`. For an append-only user (the backend's
   * `appendOnlyOf` option) a replace keeps the version replaced as a past version, which only
   * the days of retention remove, never the number of versions kept.
   *
   * @throws {QuotaExceededError} if the declared size cannot fit in the user's quota.
   * @throws {ReplaceRefusedError} as `Upload.commit` does, when it is already known.
   * @throws {NameRefusedError} if this store cannot hold the name (too long for its keys).
   */
  beginUpload(userId: number, name: string, options: PutOptions): Promise<Upload>;
  /**
   * Opens the current version of a file for reading, or the version `versionId` (current or
   * past) when given.
   *
   * @throws {NoSuchFileError} if there is no such file.
   */
  open(userId: number, name: string, versionId?: number): Promise<StoredFile>;
  /**
   * Deletes the current version of a file (it becomes a past version if retention keeps any).
   *
   * @throws {NoSuchFileError} if there is no such file.
   * @throws {DeleteRefusedError} if the user is append-only (checked again here, whatever the
   *   server decided: a session may be older than the users file).
   */
  delete(userId: number, name: string): Promise<void>;
  /** The user's current names starting with `prefix` (all when empty). */
  list(userId: number, prefix?: string): Promise<FileListing>;
  /**
   * The files whose names start with `query.prefix` with their metadata, in bytewise name order:
   * the current ones, or those current at `query.atMs`.
   */
  entries(userId: number, query?: EntriesQuery): Promise<VersionListing>;
  /**
   * Every stored version of `name`, oldest first (the current one last, if the file exists).
   */
  versions(userId: number, name: string): Promise<VersionListing>;
  /** A current file's metadata, or `undefined`. */
  stat(userId: number, name: string): Promise<FileMetadata | undefined>;
  /**
   * Bytes the user's files take against the quota: current and past versions, and what each
   * version (on S3, each deletion record too) is charged besides its bytes
   * (`storage/quota_charge.ts`).
   */
  usage(userId: number): Promise<number>;
  /**
   * Removes the past versions retention no longer keeps (also done in the background).
   *
   * @returns how many were removed.
   */
  prune(): Promise<number>;
  /** Counters since start. */
  stats(): StorageStats;
  /** Whether the store answers now (the admin port's health check). */
  healthy(): Promise<boolean>;
  /** Resolves once work started after answers (removals, pruning) is done. */
  settled(): Promise<void>;
  /** Releases everything; call once no request is in flight. */
  close(): Promise<void>;
}

/**
 * The errors of the contract (see `./errors.ts`), here too so that a backend reads its contract in
 * one import.
 */
export * from "./errors.ts";
