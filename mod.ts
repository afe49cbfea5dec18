/**
 * A backup server and client for the backup protocol, version 1 (the protocol of the original C++
 * backup server and Python client), with the pure codec they share.
 *
 * @example
 * ```ts ignore
 * import { BackupClient, startServer } from "./mod.ts";
 *
 * const server = await startServer({ root: "./backup-root", port: 0 });
 * const client = await BackupClient.connect({ userId: 7, port: server.addr.port });
 * await client.backup("hello.txt", ReadableStream.from([new TextEncoder().encode("hi")]), 2);
 * console.log(await client.list()); // ["hello.txt"]
 * client.close();
 * await server.close();
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
export type { ByteSink, ByteSource } from "./io/byte_stream.ts";
export {
  type BackupServer,
  DEFAULT_HOSTNAME,
  DEFAULT_PORT,
  type ServerOptions,
  startServer,
} from "./server/server.ts";
export { DEFAULT_LIMITS, type ServerLimits } from "./server/limits.ts";
export type { StatsSnapshot } from "./server/stats.ts";
export type {
  FileListing,
  FileMetadata,
  PutOptions,
  Storage,
  StorageStats,
  StoredFile,
  Upload,
} from "./storage/storage.ts";
export { CorruptStoreError, QuotaExceededError } from "./storage/storage.ts";
export {
  type CommitStep,
  EmbeddedStorage,
  type EmbeddedStorageOptions,
  type OpenReport,
} from "./storage/embedded/engine.ts";
export type { Retention } from "./storage/embedded/version_index.ts";
export type { V1ImportReport } from "./storage/embedded/import_v1.ts";
export {
  createLogger,
  type LogFormat,
  type Logger,
  type LoggerOptions,
  type RequestRecord,
} from "./server/log.ts";
