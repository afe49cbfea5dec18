/**
 * What `startServer` takes: the opened store it serves, where to listen, limits, accounts, TLS,
 * the admin port. Which store, and how it is opened, is the caller's.
 *
 * @module
 */
import type { Storage } from "../storage/storage.ts";
import type { Access } from "./access.ts";
import type { ThrottleOptions } from "./handshake_throttle.ts";
import type { Histogram } from "./histogram.ts";
import type { ServerLimits } from "./limits.ts";
import type { Logger } from "./log.ts";

/** Options of `startServer`. */
export interface ServerOptions {
  /**
   * The opened store the server serves. The server never closes it: whoever opened it closes it
   * once `close` has resolved (no request is in flight then).
   */
  storage: Storage;
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
  /**
   * Who may do what (the users file, loaded with `Access.load`); pass the same one whose
   * `quotaOf` and `appendOnlyOf` the store was opened with, so that a reload reaches both.
   * @default open, as version 1
   */
  access?: Access;
  /** Where the store's calls are timed (its opener observes them), for `/metrics`. */
  storageSeconds?: Histogram;
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
  /** Serve `/healthz` and `/metrics` over HTTP on this address (port 0: a free one). */
  admin?: { hostname: string; port: number };
}
