import { MAX_PAYLOAD_SIZE } from "../protocol/constants.ts";

/** Limits an operator can set; every field has a default in `DEFAULT_LIMITS`. */
export interface ServerLimits {
  /** Largest file accepted, in bytes (at most 2^32-1). */
  maxFileSize: number;
  /** Connections served at once; past it new ones are refused at once. */
  maxConnections: number;
  /**
   * Connections served at once from one address (IP); past it new ones from there are refused at
   * once. 0 turns the cap off.
   */
  maxConnectionsPerAddress: number;
  /** Milliseconds a connection may sit idle between requests. */
  idleTimeoutMs: number;
  /**
   * Milliseconds to receive a request header once its first byte arrived, and between payload
   * reads; also to finish a TLS handshake, and, with accounts, to finish the sign-in (TLS, Hello and
   * Auth, or a version 1 client's first request) counted from the accept.
   */
  frameTimeoutMs: number;
  /** Milliseconds that requests in flight get to finish at shutdown. */
  shutdownTimeoutMs: number;
  /**
   * Bytes each user may store in all; 0 means no quota. The store enforces it: whoever opens the
   * store gives it this quota for users whose account has none (`openServer` does).
   */
  quotaBytes: number;
  /**
   * Slowest transfer accepted, in bytes per second, once the first `frameTimeoutMs` have passed: a
   * payload that trickles in (or a download read) slower is closed. 0 turns the floor off.
   */
  minTransferRate: number;
  /**
   * Version 3 requests one connection reads ahead of its answers and works on at once (at least
   * 1): a client streaming blobs never waits a round trip per blob.
   */
  pipelineRequests: number;
  /**
   * Bytes one version 3 connection holds for requests read ahead and answers not yet sent (at
   * least 1): a request larger than this is read only once nothing else is held.
   */
  pipelineBytes: number;
}

/**
 * The shortest timeout that can be enforced: the watchdog checks deadlines at most this often. A
 * shorter one (other than 0, which turns a timeout off) is refused rather than silently rounded.
 */
export const MIN_TIMEOUT_MS = 10;

/** The defaults of every limit. */
export const DEFAULT_LIMITS: Readonly<ServerLimits> = Object.freeze({
  maxFileSize: MAX_PAYLOAD_SIZE,
  maxConnections: 1024,
  // An eighth of the slots: enough for an office behind one NAT address or the bench's 64 clients,
  // while one address can no longer take every slot.
  maxConnectionsPerAddress: 128,
  idleTimeoutMs: 120_000,
  frameTimeoutMs: 30_000,
  shutdownTimeoutMs: 10_000,
  quotaBytes: 0,
  minTransferRate: 1024,
  pipelineRequests: 256,
  pipelineBytes: 64 * 1024 * 1024,
});

/** Fills in defaults and checks ranges. @throws {RangeError} for a value out of range. */
export function resolveLimits(limits: Partial<ServerLimits> = {}): ServerLimits {
  const resolved = { ...DEFAULT_LIMITS, ...limits };
  for (const [key, value] of Object.entries(resolved)) {
    if (!Number.isInteger(value) || value < 0) {
      throw new RangeError(`${key} must be a whole number >= 0, got ${value}`);
    }
  }
  if (resolved.maxFileSize > MAX_PAYLOAD_SIZE) {
    throw new RangeError(
      `maxFileSize must be at most ${MAX_PAYLOAD_SIZE}, got ${resolved.maxFileSize}`,
    );
  }
  for (const key of ["maxConnections", "pipelineRequests", "pipelineBytes"] as const) {
    if (resolved[key] < 1) throw new RangeError(`${key} must be at least 1`);
  }
  for (const key of ["idleTimeoutMs", "frameTimeoutMs", "shutdownTimeoutMs"] as const) {
    const ms = resolved[key];
    if (ms > 0 && ms < MIN_TIMEOUT_MS) {
      throw new RangeError(`${key} must be 0 (off) or at least ${MIN_TIMEOUT_MS}, got ${ms}`);
    }
  }
  return resolved;
}
