/**
 * Opens the backend the server was asked for (the embedded engine on a root, or an S3 bucket),
 * logs what opening found, and counts uploads in flight for the metrics.
 *
 * @module
 */
import { EmbeddedStorage, type EmbeddedStorageOptions } from "../storage/embedded/engine.ts";
import type { AppendOnlyOf, Retention } from "../storage/retention.ts";
import { S3Storage } from "../storage/s3/engine.ts";
import type { S3Location } from "../objects/s3/s3_client.ts";
import type { Storage, Upload } from "../storage/storage.ts";
import type { Logger } from "./log.ts";
import type { ServerStats } from "./stats.ts";
import { logOpenReport } from "./startup_log.ts";

/** Where an S3-backed server keeps its files. */
export interface S3Backend {
  /** The bucket and how to reach it. */
  location: S3Location;
  /** Keys start with this; "" for the whole bucket. */
  prefix?: string;
  /** Names this server's data objects (host and port): a restart aborts what it left. */
  serverTag: string;
}

/** What the backend is opened with. */
export interface BackendOptions {
  root: string;
  s3?: S3Backend;
  quotaOf: (userId: number) => number;
  /** Whether a user is append-only now (re-read on reload): see `AppendOnlyOf`. */
  appendOnlyOf?: AppendOnlyOf;
  retention?: Partial<Retention>;
  readCacheBytes?: number;
  pruneIntervalMs?: number;
  now?: () => number;
  onCommitStep?: EmbeddedStorageOptions["onCommitStep"];
  onGarbageStep?: EmbeddedStorageOptions["onGarbageStep"];
  packTargetBytes?: number;
}

/** Opens the backend, with uploads counted in `stats`. */
export async function openBackend(
  options: BackendOptions,
  logger: Logger,
  stats: ServerStats,
): Promise<Storage> {
  const onBackgroundError = (error: unknown) => {
    logger.error("storage background work failed", { error: String(error) });
  };
  let storage: Storage;
  if (options.s3) {
    const opened = await S3Storage.open({
      ...options.s3,
      quotaOf: options.quotaOf,
      appendOnlyOf: options.appendOnlyOf,
      retention: options.retention,
      pruneIntervalMs: options.pruneIntervalMs,
      now: options.now,
      onBackgroundError,
      onRequest: (call, seconds) => stats.storageSeconds.observe(call, seconds),
    });
    storage = opened.storage;
    if (opened.report.staleUploadsAborted > 0) {
      logger.notice("aborted unfinished uploads", { uploads: opened.report.staleUploadsAborted });
    }
  } else {
    const opened = await EmbeddedStorage.open({ ...options, onBackgroundError });
    storage = opened.storage;
    logOpenReport(opened.report, logger);
  }
  return countingUploads(storage, stats);
}

/** `storage` with its uploads in flight counted in `stats.uploadsInFlight`. */
function countingUploads(storage: Storage, stats: ServerStats): Storage {
  const beginUpload: Storage["beginUpload"] = async (userId, name, options) => {
    const upload = await storage.beginUpload(userId, name, options);
    stats.uploadsInFlight++;
    let ended = false;
    const end = () => {
      if (!ended) stats.uploadsInFlight--;
      ended = true;
    };
    const counted: Upload = {
      write: (bytes) => upload.write(bytes),
      commit: (commitOptions) => upload.commit(commitOptions).finally(end),
      abort: () => upload.abort().finally(end),
    };
    return counted;
  };
  return new Proxy(storage, {
    get: (target, key) => {
      if (key === "beginUpload") return beginUpload;
      const value = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
