/**
 * A backup server and clients for the backup protocol: version 1 (the protocol of the original C++
 * backup server and Python client) and version 2 (Ed25519 accounts, TLS, SHA-256 checked both
 * ways, metadata and past versions), with the pure codec they share.
 *
 * A server serves an opened store (`Storage`): open one (`EmbeddedStorage.open` on a root,
 * `S3Storage.open` on a bucket, or `openStore` for either), start a server on it, and close the
 * store after the server. `openServer` does all of it, as the server's command line does.
 *
 * @example
 * ```ts
 * import { BackupClient, createLogger, EmbeddedStorage, startServer } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const root = await Deno.makeTempDir();
 * const { storage } = await EmbeddedStorage.open({ root });
 * const logger = createLogger({ writeLine: () => {} });
 * const server = await startServer({ storage, port: 0, logger });
 * const client = await BackupClient.connect({ userId: 7, port: server.addr.port });
 * await client.backup("hello.txt", ReadableStream.from([new TextEncoder().encode("hi")]), 2);
 * assert.deepEqual(await client.list(), ["hello.txt"]);
 * client.close();
 * await server.close();
 * await storage.close(); // whoever opened the store closes it, after the server
 * await Deno.remove(root, { recursive: true });
 * ```
 *
 * @module
 */
export * from "./protocol/mod.ts";
export {
  BackupClient,
  type BackupClientOptions,
  type TransferOptions,
} from "./client/backup_client.ts";
export {
  BackupClientV2,
  type BackupClientV2Options,
  type RetrieveOptions,
  type UploadMetadata,
} from "./client/backup_client_v2.ts";
export { type ClientKey, generateKey, KeyFileError, loadKey } from "./client/keys.ts";
export type { TransportOptions } from "./client/transport.ts";
export {
  IntegrityError,
  ServerError,
  ServerRefusedError,
  TlsError,
} from "./client/client_errors.ts";
export { BackupError } from "./common/backup_error.ts";
export { ConnectionLostError } from "./io/connection_errors.ts";
export { UnexpectedEofError } from "./io/buffered_reader.ts";
export type { ByteSink, ByteSource } from "./io/byte_stream.ts";
export {
  type BackupServer,
  type ReloadReport,
  type ServerOptions,
  startServer,
} from "./server/server.ts";
export { DEFAULT_LIMITS, type ServerLimits } from "./server/limits.ts";
export type { StatsSnapshot } from "./server/stats.ts";
export type {
  CommitOptions,
  EntriesQuery,
  FileListing,
  FileMetadata,
  PutOptions,
  Storage,
  StorageStats,
  StoredFile,
  Upload,
  VersionListing,
  VersionRecord,
} from "./storage/storage.ts";
export {
  CorruptStoreError,
  DeleteRefusedError,
  DigestMismatchError,
  LimitExceededError,
  NameConflictError,
  NameRefusedError,
  NoSuchFileError,
  QuotaExceededError,
  ReplaceRefusedError,
  UnsafePathError,
} from "./storage/errors.ts";
export type { AppendOnlyOf, Retention } from "./storage/retention.ts";
export {
  type BlobEncoding,
  type BlobKind,
  BlobMismatchError,
  type BlobReader,
  type IncomingBlob,
  NoSuchBlobError,
  NoSuchSnapshotError,
  PruneBusyError,
  type PruneReport,
  SessionClosedError,
  type SnapshotCommit,
  type SnapshotRepository,
  type SnapshotSession,
  type StoredBlob,
  type StoredSnapshot,
} from "./storage/snapshots.ts";
export {
  openStore,
  type S3Backend,
  type StoreObservers,
  type StoreOptions,
} from "./cli/open_store.ts";
export { openServer, type OpenServerOptions } from "./cli/open_server.ts";
export { Access, type AccessOptions, type Session } from "./server/access.ts";
export { Histogram, type HistogramSeries } from "./server/histogram.ts";
export { type Account, parseUsersFile, UsersFileError } from "./server/accounts.ts";
export {
  type ProblemKind,
  type VerifyData,
  type VerifyOptions,
  type VerifyProblem,
  type VerifyReport,
  verifyRoot,
  type VerifyWarning,
  type VersionRef,
} from "./storage/embedded/verify.ts";
export type { ThrottleOptions } from "./server/handshake_throttle.ts";
export {
  type CommitStep,
  EmbeddedStorage,
  type EmbeddedStorageOptions,
  type GarbageStep,
  type OpenReport,
  type SnapshotCommitStep,
} from "./storage/embedded/engine.ts";
export type { GarbageCollectionReport } from "./storage/embedded/chunk_gc.ts";
export {
  type ChunkGcReport,
  type ChunkGcStep,
  type S3GcOptions,
  type S3OpenReport,
  S3Storage,
  type S3StorageOptions,
} from "./storage/s3/engine.ts";
export type { GcClock } from "./storage/s3/gc_clock.ts";
export { type RequestObserver, S3Error, type S3Location } from "./objects/s3/s3_client.ts";
export type { Credentials } from "./objects/s3/sigv4.ts";
export type { V1ImportReport } from "./storage/embedded/import_v1.ts";
export {
  createLogger,
  type LogFormat,
  type Logger,
  type LoggerOptions,
  type RequestRecord,
} from "./server/log.ts";
