/**
 * The log line and the stats count of one request: an ordinary line for answers, a warning or an
 * error line with the cause for failures, and rationed lines for failed handshakes.
 *
 * @module
 */
import { Status } from "../protocol/constants.ts";
import { type AnyRequest, describeRequest } from "./any_request.ts";
import type { Logger, RequestRecord } from "./log.ts";
import { ThrottledAuthError } from "./requests_v2.ts";
import type { ServerStats } from "./stats.ts";

/** Why a request failed, and how loud its line is. */
export interface Failure {
  error: unknown;
  level: "info" | "warn" | "error";
}

/** One request as it ended. */
export interface EndedRequest {
  /** The client's `host:port`. */
  peer: string;
  /** The request, if its header parsed. */
  request: AnyRequest | undefined;
  /** Payload bytes moved. */
  bytes: number;
  /** The status answered, or `-`. */
  status: number | "-";
  /** `performance.now()` when it began. */
  started: number;
}

/** Counts the request and writes its log line. */
export function logRequest(
  ctx: { stats: ServerStats; logger: Logger },
  ended: EndedRequest,
  failure?: Failure,
): void {
  const { status } = ended;
  const record: RequestRecord = {
    peer: ended.peer,
    ...describeRequest(ended.request),
    bytes: ended.bytes,
    status,
    durationMs: msSince(ended.started),
    // 1001 and 1002 are ordinary answers; only a 1003 or a dropped connection carries its cause.
    error: failure && (status === "-" || status === Status.GeneralError)
      ? describe(failure.error)
      : undefined,
  };
  ctx.stats.countRequest(record);
  const error = failure?.error;
  if (error instanceof ThrottledAuthError) {
    if (!error.logged) return; // rationed: a later line carries the count
    const extra = { failures: error.failures, notLogged: error.suppressed || undefined };
    ctx.logger.warn("handshake failed", { ...record, ...extra });
    return;
  }
  if (!failure || failure.level === "info") ctx.logger.request(record);
  else ctx.logger[failure.level]("request failed", { ...record });
}

/**
 * Milliseconds since `started` (a `performance.now()`), to a tenth: a request's `durationMs`.
 *
 * @example
 * ```ts
 * import { msSince } from "./request_log.ts";
 * import assert from "node:assert/strict";
 * assert.ok(msSince(performance.now()) >= 0);
 * ```
 */
export function msSince(started: number): number {
  return Math.round((performance.now() - started) * 10) / 10;
}

/** An error as one line: its class, message and cause. */
export function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : "";
  return `${error.name}: ${error.message}${cause}`;
}
