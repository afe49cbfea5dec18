/**
 * What `startServer` takes: where to store, where to listen, limits, accounts, TLS, S3, the admin
 * port, and the hooks tests use.
 *
 * @module
 */
import type { EmbeddedStorageOptions } from "../storage/embedded/engine.ts";
import type { Retention } from "../storage/embedded/version_index.ts";
import type { AccessOptions } from "./access.ts";
import type { ThrottleOptions } from "./handshake_throttle.ts";
import type { ServerLimits } from "./limits.ts";
import type { Logger } from "./log.ts";
import type { S3Backend } from "./open_storage.ts";

/** Options of `startServer`. */
export interface ServerOptions {
  /** The backup root; created if missing. */
  root: string;
  /** Address to listen on; default `127.0.0.1`. */
  hostname?: string;
  /** Port to listen on; default 1234; 0 picks a free one. */
  port?: number;
  /** Limits; each missing one takes its default from `DEFAULT_LIMITS`. */
  limits?: Partial<ServerLimits>;
  /** Close each connection after its first response, as the original server does. */
  closeAfterResponse?: boolean;
  /** Where the operator log goes; default: text lines on standard output. */
  logger?: Logger;
  /** Milliseconds between "stats" log lines with the totals; 0 or absent: none. */
  statsIntervalMs?: number;
  /** How long replaced and deleted versions are kept; default 30 days, any number of versions. */
  retention?: Partial<Retention>;
  /** Bytes of small files kept in memory for repeated retrieves; default 32 MiB; 0: none. */
  readCacheBytes?: number;
  /** Milliseconds between background prunes of past versions; 0: only at start; default 10 min. */
  pruneIntervalMs?: number;
  /** The wall clock (milliseconds since the epoch) storage stamps versions with; default `Date.now`. */
  now?: () => number;
  /** Awaited at each step of an upload's commit (see `CommitStep`); for crash tests. */
  onCommitStep?: EmbeddedStorageOptions["onCommitStep"];
  /** Awaited at each step of garbage collection (see `GarbageStep`); for crash tests. */
  onGarbageStep?: EmbeddedStorageOptions["onGarbageStep"];
  /** Packs of chunks are cut at this size; default 16 MiB (tests make them small). */
  packTargetBytes?: number;
  /** Accounts (the users file), version 1 beside them, append-only. @default open, as version 1 */
  access?: Omit<AccessOptions, "readTextFile">;
  /** PEM files: the port speaks TLS. */
  tls?: { certFile: string; keyFile: string };
  /** A second, plain TCP port beside a TLS one (for version 1 clients, with `allowV1`). */
  plainListen?: { hostname: string; port: number };
  /**
   * Serve version 2 sessions (keys, accounts) on `plainListen` too, in clear. By default they are
   * refused there with a message that points to the TLS port.
   */
  plainAllowAccounts?: boolean;
  /** How failed handshakes are slowed down. */
  throttle?: ThrottleOptions;
  /** Keep files in an S3 bucket instead of under `root`. */
  s3?: S3Backend;
  /** Serve `/healthz` and `/metrics` over HTTP on this address (port 0: a free one). */
  admin?: { hostname: string; port: number };
}
