/**
 * Composes a running server: the accounts, the store they set the policy of (each user's quota,
 * append-only), and a server on both. The server only serves the store it is given; this module
 * opened it, so this module closes it, after the server.
 *
 * @module
 */
import { Access, type AccessOptions } from "../server/access.ts";
import { Histogram } from "../server/histogram.ts";
import { resolveLimits } from "../server/limits.ts";
import { createLogger } from "../server/log.ts";
import { type BackupServer, type ServerOptions, startServer } from "../server/server.ts";
import { openStore, type StoreOptions } from "./open_store.ts";

/** Options of `openServer`: the store's, the server's, and the accounts to load. */
export interface OpenServerOptions
  extends
    Omit<StoreOptions, "quotaOf" | "appendOnlyOf">,
    Omit<ServerOptions, "storage" | "access" | "storageSeconds"> {
  /** Accounts (the users file), version 1 beside them, append-only. @default open, as version 1 */
  access?: Omit<AccessOptions, "readTextFile">;
}

/**
 * Loads the accounts, opens the store with their policy (an account's quota, or else
 * `limits.quotaBytes`; append-only as the accounts say, re-read on `reload`), and starts a
 * server on it. Closing the server it resolves closes the store after the server, and a failed
 * start closes it at once.
 *
 * @throws {UsersFileError} if the users file cannot be used; what `openStore` and `startServer`
 * throw.
 * @example
 * ```ts
 * import { openServer } from "./open_server.ts";
 * import { createLogger } from "../server/log.ts";
 * const root = await Deno.makeTempDir();
 * const logger = createLogger({ writeLine: () => {} });
 * const server = await openServer({ root, port: 0, logger });
 * console.log(`listening on port ${server.addr.port}, storing under ${server.root}`);
 * await server.close(); // the server, then its store
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export async function openServer(options: OpenServerOptions): Promise<BackupServer> {
  const limits = resolveLimits(options.limits);
  const logger = options.logger ?? createLogger();
  const access = await Access.load(options.access, logger);
  const storageSeconds = new Histogram();
  const storage = await openStore({
    root: options.root,
    s3: options.s3,
    retention: options.retention,
    readCacheBytes: options.readCacheBytes,
    hashWorkers: options.hashWorkers,
    blobGraceMs: options.blobGraceMs,
    pruneIntervalMs: options.pruneIntervalMs,
    now: options.now,
    onCommitStep: options.onCommitStep,
    onGarbageStep: options.onGarbageStep,
    packTargetBytes: options.packTargetBytes,
    quotaOf: (userId) => access.quotaOf(userId) || limits.quotaBytes,
    appendOnlyOf: (userId) => access.appendOnlyOf(userId),
  }, {
    logger,
    onRequest: (call, seconds) => storageSeconds.observe(call, seconds),
  });
  let server: BackupServer;
  try {
    server = await startServer({ ...options, storage, access, storageSeconds, logger });
  } catch (error) {
    await storage.close();
    throw error;
  }
  return closingStore(server);
}

/** `server`, whose `close` (and `finished`) also closes its store, once, after the server. */
function closingStore(server: BackupServer): BackupServer {
  let closing: Promise<void> | undefined;
  const close = () => closing ??= server.close().then(() => server.storage.close());
  const finished = server.finished.then(close);
  // A store that fails to close rejects `close` for its caller; `finished` may have no listener.
  finished.catch(() => {});
  return {
    get addr() {
      return server.addr;
    },
    get plainAddr() {
      return server.plainAddr;
    },
    get adminAddr() {
      return server.adminAddr;
    },
    reload: () => server.reload(),
    get root() {
      return server.root;
    },
    get storage() {
      return server.storage;
    },
    get connectionCount() {
      return server.connectionCount;
    },
    get accountCount() {
      return server.accountCount;
    },
    stats: () => server.stats(),
    close,
    finished,
  };
}
