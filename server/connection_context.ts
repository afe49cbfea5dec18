/**
 * What the connections of one server work with: the parts they all share (`ConnectionContext`),
 * what their listener allows (`ConnectionOptions`), and how long one lingers after a final 1003
 * (`LINGER_MS`, `LINGER_BYTES`; the accept loop's refusals linger as long).
 *
 * @module
 */
import type { BufferPool } from "../io/buffer_pool.ts";
import type { Storage } from "../storage/storage.ts";
import type { Access } from "./access.ts";
import type { HandshakeThrottle } from "./handshake_throttle.ts";
import type { ServerLimits } from "./limits.ts";
import type { ListTurns } from "./list_turns.ts";
import type { Logger } from "./log.ts";
import type { ServerStats } from "./stats.ts";

/** What every connection of one server shares. */
export interface ConnectionContext {
  /** Where files live. */
  storage: Storage;
  /** Who may do what. */
  access: Access;
  /** Slows failed handshakes down per address. */
  throttle: HandshakeThrottle;
  /** Lists of one user run a few at a time. */
  listTurns: ListTurns;
  /** Totals for the periodic stats line. */
  stats: ServerStats;
  /** The operator's limits. */
  limits: ServerLimits;
  /** The operator log. */
  logger: Logger;
  /** Large buffers for payloads, held only while a payload moves. */
  buffers: BufferPool;
  /** Close after each response, as the original server does. */
  closeAfterResponse: boolean;
  /** True once the server is shutting down: finish the request in flight, take no more. */
  isShuttingDown(): boolean;
}

/** What differs between the connections of one server: what their listener allows. */
export interface ConnectionOptions {
  /**
   * Refuse version 2 sessions with this message (a plain port beside TLS: accounts' keys and
   * files do not travel in clear unless the operator allows it).
   */
  refuseV2?: string;
}

/** After a final 1003, how long and how much of the client's input is read and dropped. */
export const LINGER_MS = 1000;
/** See `LINGER_MS`. */
export const LINGER_BYTES = 1024 * 1024;
