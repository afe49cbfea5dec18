import { BufferPool } from "../io/buffer_pool.ts";
import { ListTurns } from "./list_turns.ts";
import { Connection } from "./connection.ts";
import type { ConnectionContext, ConnectionOptions } from "./connection_context.ts";
import { acceptConnections } from "./accept_loop.ts";
import { MIN_TIMEOUT_MS, resolveLimits } from "./limits.ts";
import { createLogger } from "./log.ts";
import { ServerStats, type StatsSnapshot } from "./stats.ts";
import type { Storage } from "../storage/storage.ts";
import { Watchdog } from "./watchdog.ts";
import { warnIfExposed } from "./startup_log.ts";
import { countingUploads } from "./counted_uploads.ts";
import { type AdminListener, serveAdmin } from "./admin.ts";
import { renderMetrics } from "./metrics.ts";
import { Access } from "./access.ts";
import { HandshakeThrottle } from "./handshake_throttle.ts";
import { type ListenSpec, ServerListener } from "./listeners.ts";
import { AddressSlots } from "./address_slots.ts";
import { DEFAULT_HOSTNAME, DEFAULT_PORT } from "../protocol/constants.ts";
import type { ServerOptions } from "./server_options.ts";

export type { ServerOptions } from "./server_options.ts";

/** What `reload` re-read. */
export interface ReloadReport {
  /** Accounts now in force, if there is a users file. */
  accounts?: number;
  /** Whether a TLS certificate was re-read. */
  certificate: boolean;
  /** What could not be re-read (the old settings stay in force for it). */
  errors: string[];
}

/** A running server. */
export interface BackupServer {
  /** The address it listens on (with the real port when 0 was asked). */
  readonly addr: Deno.NetAddr;
  /** The second, plain TCP address, if `plainListen` was given. */
  readonly plainAddr?: Deno.NetAddr;
  /** The admin port's address, if `admin` was given. */
  readonly adminAddr?: Deno.NetAddr;
  /** Re-reads the users file and the TLS certificate and key (SIGHUP). Never throws. */
  reload(): Promise<ReloadReport>;
  /** Where its store keeps files (`Storage.location`), for the log. */
  readonly root: string;
  /**
   * The store it serves (uploads begun through it count in the metrics), for maintenance (pruning)
   * and inspection; requests go through the protocol. The server does not close it.
   */
  readonly storage: Storage;
  /** Connections open now. */
  readonly connectionCount: number;
  /** Accounts in force (0 without a users file). */
  readonly accountCount: number;
  /** Totals since start: connections, requests by op and status, payload bytes in and out. */
  stats(): StatsSnapshot;
  /**
   * Stops accepting, closes idle connections, lets requests in flight finish within the shutdown
   * timeout, then closes whatever is left. Resolves when every connection is closed; the store
   * stays open for whoever opened it to close.
   */
  close(): Promise<void>;
  /** Resolves once the server has closed. */
  readonly finished: Promise<void>;
}

/**
 * The buffers payloads move through (see `BufferPool`): 1 MiB for payloads over 256 KiB while at most
 * 32 are lent out (16 transfers, a buffer pair each: 32 MiB), else 256 KiB.
 */
export const TRANSFER_BUFFERS = {
  largeSize: 1024 * 1024,
  maxLarge: 32,
  smallSize: 256 * 1024,
  maxFreeSmall: 64,
} as const;

/**
 * Starts a backup server on an opened store: listens, and serves connections until `close` is
 * called. The store is the caller's: it stays open after `close`, and after a failed start.
 *
 * @throws {Deno.errors.AddrInUse} if the port is taken; {RangeError} for a limit out of range.
 * @example
 * ```ts
 * import { startServer } from "./server.ts";
 * import { EmbeddedStorage } from "../storage/embedded/engine.ts";
 * import { createLogger } from "./log.ts";
 * const root = await Deno.makeTempDir();
 * const { storage } = await EmbeddedStorage.open({ root });
 * const logger = createLogger({ writeLine: () => {} });
 * const server = await startServer({ storage, port: 0, logger });
 * console.log(`listening on port ${server.addr.port}`);
 * await server.close();
 * await storage.close(); // whoever opened the store closes it, after the server
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export async function startServer(options: ServerOptions): Promise<BackupServer> {
  const limits = resolveLimits(options.limits);
  const logger = options.logger ?? createLogger();
  const access = options.access ?? await Access.load();
  const stats = new ServerStats(options.storageSeconds);
  const storage = countingUploads(options.storage, stats);
  const specs: ListenSpec[] = [{
    hostname: options.hostname ?? DEFAULT_HOSTNAME,
    port: options.port ?? DEFAULT_PORT,
    tls: options.tls,
  }];
  if (options.plainListen) specs.push(options.plainListen);
  const listeners: ServerListener[] = [];
  let admin: AdminListener | undefined;
  const connections = new Set<Connection>();
  const snapshot = () => stats.snapshot(connections.size, storage.stats());
  try {
    for (const spec of specs) listeners.push(await ServerListener.open(spec));
    if (options.admin) {
      admin = serveAdmin(options.admin, {
        healthy: () => storage.healthy(),
        listenersDown: () =>
          listeners.flatMap((listener) => {
            const health = listener.health();
            return health.ok ? [] : [health.reason];
          }),
        metrics: () =>
          renderMetrics({
            snapshot: snapshot(),
            requestSeconds: stats.requestSeconds,
            storageSeconds: stats.storageSeconds,
          }),
      });
    }
  } catch (error) {
    for (const listener of listeners) listener.close();
    throw error;
  }
  warnIfExposed(specs, access, logger, options.plainAllowAccounts);
  const smallestTimeout = Math.min(
    ...[limits.idleTimeoutMs, limits.frameTimeoutMs].filter((ms) => ms > 0),
    4000,
  );
  const watchdog = new Watchdog(Math.max(MIN_TIMEOUT_MS, Math.min(1000, smallestTimeout / 4)));
  let shuttingDown = false;
  const ctx: ConnectionContext = {
    storage,
    access,
    throttle: new HandshakeThrottle(options.throttle),
    listTurns: new ListTurns(),
    stats,
    limits,
    logger,
    buffers: new BufferPool(TRANSFER_BUFFERS),
    closeAfterResponse: options.closeAfterResponse ?? false,
    isShuttingDown: () => shuttingDown,
  };
  const serving = new Set<Promise<void>>();
  const perAddress = new AddressSlots(limits.maxConnectionsPerAddress);
  const plainOptions: ConnectionOptions = options.plainAllowAccounts ? {} : {
    refuseV2: "this port is plain TCP, for version 1 clients: sign in with a key over TLS " +
      `(--tls), on port ${listeners[0].addr.port}`,
  };

  const serve = (conn: Deno.Conn, host: string, connectionOptions: ConnectionOptions) => {
    try {
      (conn as Deno.TcpConn).setNoDelay?.(true);
    } catch {
      // the peer already reset it; serve() will notice
    }
    const connection: Connection = new Connection(
      conn,
      ctx,
      watchdog.watch((reason) => connection.close(reason)),
      connectionOptions,
    );
    connections.add(connection);
    const done = connection.serve().finally(() => {
      connections.delete(connection);
      perAddress.release(host);
      serving.delete(done);
    });
    serving.add(done);
  };
  const admit = (host: string) => {
    const full = connections.size >= limits.maxConnections;
    if (full || !perAddress.take(host)) {
      stats.connectionsRefused++;
      return full ? "too many connections" : "too many connections from this address";
    }
    stats.connectionsAccepted++;
    return undefined;
  };
  const acceptLoop = Promise.all(
    listeners.map((listener, i) => {
      const connectionOptions = i === 0 ? {} : plainOptions;
      return acceptConnections(listener, {
        logger,
        admit,
        serve: (conn, host) => serve(conn, host, connectionOptions),
      }).catch((error) => {
        // The listener says it stopped: /healthz answers 503 from now on.
        if (!shuttingDown) {
          logger.error("accept loop failed", {
            address: `${listener.addr.hostname}:${listener.addr.port}`,
            error: String(error),
          });
        }
      });
    }),
  );

  const statsTimer = options.statsIntervalMs
    ? setInterval(
      () => logger.notice("stats", { ...snapshot() }),
      options.statsIntervalMs,
    )
    : undefined;
  const finished = Promise.withResolvers<void>();
  let closing: Promise<void> | undefined;
  const close = () =>
    closing ??= (async () => {
      shuttingDown = true;
      clearInterval(statsTimer);
      for (const listener of listeners) listener.close();
      await admin?.close();
      await acceptLoop;
      for (const connection of connections) {
        if (connection.idle) connection.close("server shutting down");
      }
      const timeout = Promise.withResolvers<void>();
      const timer = setTimeout(timeout.resolve, limits.shutdownTimeoutMs);
      await Promise.race([Promise.all(serving), timeout.promise]);
      clearTimeout(timer);
      for (const connection of connections) connection.close("shutdown timeout");
      await Promise.all(serving);
      watchdog.stop();
      finished.resolve();
    })();

  const reload = async (): Promise<ReloadReport> => {
    const result: ReloadReport = { certificate: false, errors: [] };
    try {
      if (access.accountsRequired) result.accounts = await access.reload();
    } catch (error) {
      result.errors.push(`users file: ${error instanceof Error ? error.message : error}`);
    }
    try {
      result.certificate = await listeners[0].reload();
    } catch (error) {
      result.errors.push(`TLS certificate: ${error instanceof Error ? error.message : error}`);
    }
    return result;
  };

  return {
    addr: listeners[0].addr,
    plainAddr: listeners[1]?.addr,
    adminAddr: admin?.addr,
    reload,
    root: storage.location,
    storage,
    get connectionCount() {
      return connections.size;
    },
    get accountCount() {
      return access.accountCount;
    },
    stats: snapshot,
    close,
    finished: finished.promise,
  };
}
