/**
 * The log of one version 3 connection. Blob requests (`missing`, `put-blob`, `get-blob`) answered
 * as asked are counted, not logged one by one: a backup of 3,000 small files is over 3,000 of
 * them, and a line each was most of an operator's log and a good part of the server's CPU for such
 * a backup (docs/logging.md). They are summed up in a `blob requests` line when the connection
 * ends, and at the first one answered a minute or more after the last such line (a long restore
 * shows in the log as it goes), unless the logger asks for them one by one
 * (`--log-blob-requests`). Every other request has its line, and so has every failed request, blob
 * or not. The stats count every request.
 *
 * @module
 */
import type { HandshakeRequestV3 } from "../protocol/v3/handshake.ts";
import { OpV3 } from "../protocol/v3/constants.ts";
import type { RequestV3 } from "../protocol/v3/requests.ts";
import type { Logger } from "./log.ts";
import { type Failure, logRequest, msSince } from "./request_log.ts";
import { V3_OP_NAMES } from "./requests_v3.ts";
import type { ServerStats } from "./stats.ts";

/** The ops summed up per connection. */
const SUMMED_OPS: ReadonlySet<number> = new Set([OpV3.Missing, OpV3.PutBlob, OpV3.GetBlob]);
/** A `blob requests` line goes out at the first blob request this long after the last one. */
export const BLOB_LINE_EVERY_MS = 60_000;

/** What the log needs of the session. */
export interface SessionLogContext {
  /** The server's totals, which count every request. */
  stats: ServerStats;
  /** The operator log. */
  logger: Logger;
  /** The client's `host:port`. */
  peer: string;
  /** Milliseconds of a monotonic clock; default `performance.now`. */
  now?: () => number;
}

/**
 * See the module comment.
 *
 * @example
 * ```ts
 * import { SessionLogV3 } from "./session_log_v3.ts";
 * import { createLogger } from "./log.ts";
 * import { ServerStats } from "./stats.ts";
 * import { OpV3 } from "../protocol/v3/constants.ts";
 * import type { RequestV3 } from "../protocol/v3/requests.ts";
 * import assert from "node:assert/strict";
 *
 * const lines: string[] = [];
 * const logger = createLogger({ format: "json", writeLine: (line) => lines.push(line) });
 * const log = new SessionLogV3({ stats: new ServerStats(), logger, peer: "127.0.0.1:5000" });
 * const put = { op: OpV3.PutBlob, userId: 7 } as RequestV3;
 * log.request(put, 100, 231, performance.now());
 * log.request(put, 50, 231, performance.now());
 * assert.equal(lines.length, 0);
 * log.end();
 * const line = JSON.parse(lines[0]);
 * assert.equal(line.msg, "blob requests");
 * assert.deepEqual(line.requests, { "put-blob": { "231": 2 } });
 * assert.equal(line.bytesIn, 150);
 * ```
 */
export class SessionLogV3 {
  readonly #ctx: SessionLogContext;
  readonly #now: () => number;
  /** When the time the next `blob requests` line covers began. */
  #since: number;
  #userId: number | undefined;
  /** Blob requests answered, by op and status, as the stats line counts them. */
  #summed: Record<string, Record<string, number>> | undefined;
  #bytesIn = 0;
  #bytesOut = 0;

  /** @param ctx the server's stats and log, and the client's address */
  constructor(ctx: SessionLogContext) {
    this.#ctx = ctx;
    this.#now = ctx.now ?? (() => performance.now());
    this.#since = this.#now();
  }

  /** One request as it ended: counted, and logged unless it is a blob request answered as asked. */
  request(
    request: HandshakeRequestV3 | RequestV3 | undefined,
    bytes: number,
    status: number | "-",
    started: number,
    failure?: Failure,
  ): void {
    const { peer, stats } = this.#ctx;
    if (request && !failure && SUMMED_OPS.has(request.op) && !this.#ctx.logger.blobRequests) {
      const op = V3_OP_NAMES[request.op];
      const durationMs = msSince(started);
      stats.countRequest({ peer, userId: request.userId, op, bytes, status, durationMs });
      this.#userId = request.userId;
      const byStatus = (this.#summed ??= {})[op] ??= {};
      byStatus[status] = (byStatus[status] ?? 0) + 1;
      if (request.op === OpV3.PutBlob) this.#bytesIn += bytes;
      else this.#bytesOut += bytes;
      if (this.#now() - this.#since >= BLOB_LINE_EVERY_MS) this.#writeLine();
      return;
    }
    const any = request && { version: 3 as const, request };
    logRequest(this.#ctx, { peer, request: any, bytes, status, started }, failure);
  }

  /** Writes the `blob requests` line of what is not in one yet, if anything: when the connection ends. */
  end(): void {
    this.#writeLine();
  }

  #writeLine(): void {
    const now = this.#now();
    if (this.#summed) {
      this.#ctx.logger.info("blob requests", {
        peer: this.#ctx.peer,
        userId: this.#userId,
        requests: this.#summed,
        bytesIn: this.#bytesIn,
        bytesOut: this.#bytesOut,
        durationMs: Math.round(now - this.#since),
      });
    }
    this.#summed = undefined;
    this.#bytesIn = 0;
    this.#bytesOut = 0;
    this.#since = now;
  }
}
