import { MAX_REQUEST_HEADER_SIZE, Op, Status } from "../protocol/constants.ts";
import { ConnectionLostError, LimitExceededError } from "../protocol/errors.ts";
import { parseRequestHeader, type RequestHeader } from "../protocol/request.ts";
import { encodeResponseHeader, type ResponseHeaderInit } from "../protocol/response.ts";
import { BufferedReader } from "../io/buffered_reader.ts";
import type { BufferPool } from "../io/buffer_pool.ts";
import { writeAll } from "../io/byte_stream.ts";
import { headerThenPayload, relay } from "../io/relay.ts";
import { lingeringClose } from "../io/lingering_close.ts";
import { outcomeForError } from "./error_status.ts";
import type { ServerLimits } from "./limits.ts";
import type { Logger } from "./log.ts";
import { sendListing } from "./list_response.ts";
import type { ServerStats } from "./stats.ts";
import type { Storage, Upload } from "../storage/storage.ts";
import type { Deadline } from "./watchdog.ts";

/** What every connection of one server shares. */
export interface ConnectionContext {
  /** Where files live. */
  storage: Storage;
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

/** Read buffer per connection: room for the largest header plus pipelined requests behind it. */
const READ_BUFFER_SIZE = Math.max(16 * 1024, MAX_REQUEST_HEADER_SIZE);

/** After a final 1003, how long and how much of the client's input is read and dropped. */
export const LINGER_MS = 1000;
/** See `LINGER_MS`. */
export const LINGER_BYTES = 1024 * 1024;

const OP_NAMES: Record<Op, string> = {
  [Op.Backup]: "backup",
  [Op.Retrieve]: "retrieve",
  [Op.Delete]: "delete",
  [Op.List]: "list",
};

/**
 * One client connection: reads requests one after another, answers each in full, until the client
 * closes, a request breaks the protocol, a deadline passes or the server shuts down.
 */
export class Connection {
  readonly #conn: Deno.Conn;
  readonly #ctx: ConnectionContext;
  readonly #deadline: Deadline;
  readonly #reader: BufferedReader;
  readonly #peer: string;
  #idle = true;
  #closedBecause: string | undefined;

  /**
   * @param conn the accepted socket; this object closes it
   * @param deadline this connection's deadline from the server's watchdog
   */
  constructor(conn: Deno.Conn, ctx: ConnectionContext, deadline: Deadline) {
    this.#conn = conn;
    this.#ctx = ctx;
    this.#deadline = deadline;
    this.#reader = new BufferedReader(conn, READ_BUFFER_SIZE);
    const addr = conn.remoteAddr as Deno.NetAddr;
    this.#peer = `${addr.hostname}:${addr.port}`;
  }

  /** The client's address, `host:port`. */
  get peer(): string {
    return this.#peer;
  }

  /** True while waiting for the first byte of a request (safe to close at shutdown). */
  get idle(): boolean {
    return this.#idle;
  }

  /** Closes the socket now; a pending read or write fails and `serve` returns. */
  close(reason: string): void {
    if (this.#closedBecause) return;
    this.#closedBecause = reason;
    try {
      this.#conn.close();
    } catch {
      // already closed by the other side of the race: nothing left to release
    }
  }

  /** Serves requests until the connection ends. Never throws. */
  async serve(): Promise<void> {
    try {
      while (!this.#closedBecause) {
        const keepOpen = await this.#serveOne();
        if (!keepOpen || this.#ctx.closeAfterResponse || this.#ctx.isShuttingDown()) break;
      }
    } catch (error) {
      if (!this.#closedBecause) {
        this.#ctx.logger.error("connection failed", { peer: this.#peer, error: describe(error) });
      }
    } finally {
      this.#deadline.release();
      const quietReasons = ["server closed it", "lingering close"];
      if (this.#closedBecause && !quietReasons.includes(this.#closedBecause)) {
        this.#ctx.logger.info("connection closed", {
          peer: this.#peer,
          reason: this.#closedBecause,
        });
      }
      this.close("server closed it");
    }
  }

  /** Reads and answers one request. Resolves whether the connection stays open. */
  async #serveOne(): Promise<boolean> {
    const { limits } = this.#ctx;
    let header: RequestHeader | undefined;
    let started = 0;
    const record = { bytes: 0 };
    try {
      const parsed = await this.#reader.readFrame(parseRequestHeader, "request header", (begun) => {
        this.#idle = !begun;
        if (begun) this.#deadline.arm(limits.frameTimeoutMs, "frame timeout");
        else this.#deadline.arm(limits.idleTimeoutMs, "idle timeout");
      });
      this.#idle = false;
      started = performance.now();
      if (!parsed) return false; // the client closed between requests
      header = parsed.header;
      const response = await this.#handle(header, record);
      this.#log(header, record.bytes, response.status, started);
      return true;
    } catch (error) {
      if (this.#closedBecause) return false;
      const outcome = outcomeForError(error, header?.name);
      let answered = false;
      if (outcome.response) {
        answered = await this.#respond(outcome.response).then(() => true, () => false);
      }
      this.#log(
        header,
        record.bytes,
        outcome.response?.status ?? "-",
        started || performance.now(),
        {
          error,
          level: outcome.level,
        },
      );
      if (outcome.close && answered) await this.#lingeringClose();
      return !outcome.close;
    } finally {
      this.#deadline.disarm();
    }
  }

  /** After a final 1003: let the client read it before the socket goes (see `lingeringClose`). */
  async #lingeringClose(): Promise<void> {
    this.#deadline.disarm();
    this.#closedBecause = "lingering close";
    const scratch = this.#ctx.buffers.acquire(0);
    try {
      await lingeringClose(this.#conn, { ms: LINGER_MS, maxBytes: LINGER_BYTES, scratch });
    } finally {
      this.#ctx.buffers.release(scratch);
    }
  }

  /** Carries out one request; resolves the success response it sent. */
  async #handle(header: RequestHeader, record: { bytes: number }): Promise<ResponseHeaderInit> {
    const { storage } = this.#ctx;
    switch (header.op) {
      case Op.Backup: {
        await this.#receiveBackup(header, record);
        return await this.#respond({ status: Status.Done, name: header.name });
      }
      case Op.Retrieve:
        return await this.#sendFile(header, record);
      case Op.Delete:
        await storage.delete(header.userId, header.name);
        return await this.#respond({ status: Status.Done, name: header.name });
      case Op.List: {
        using listing = await storage.list(header.userId);
        const buffer = this.#ctx.buffers.acquire(listing.nameBytes + listing.files);
        try {
          const { response, payloadSize } = await sendListing(
            listing,
            buffer,
            (bytes) => this.#write(bytes),
          );
          record.bytes = payloadSize;
          return response;
        } finally {
          this.#ctx.buffers.release(buffer);
        }
      }
    }
  }

  /**
   * Streams a backup's payload into a temporary file and commits it. If storage fails part-way, the
   * rest of the payload is still read (and dropped) so that the connection stays in step.
   */
  async #receiveBackup(header: RequestHeader, record: { bytes: number }): Promise<void> {
    const { limits, storage, buffers } = this.#ctx;
    if (header.payloadSize > limits.maxFileSize) {
      throw new LimitExceededError(
        `file of ${header.payloadSize} bytes is over the limit of ${limits.maxFileSize}`,
      );
    }
    let upload: Upload | undefined;
    let storageError: unknown;
    try {
      upload = await storage.beginUpload(header.userId, header.name, { size: header.payloadSize });
    } catch (error) {
      if (error instanceof LimitExceededError) throw error; // refused before the payload: 1003
      storageError = error;
    }
    // Two buffers, the socket filling one while the disk takes the other; one if the payload fits it.
    const first = buffers.acquire(header.payloadSize);
    const scratches = header.payloadSize <= first.length
      ? [first] as const
      : [first, buffers.acquire(header.payloadSize)] as const;
    const startedAt = performance.now();
    let remaining = header.payloadSize;
    try {
      await relay(
        scratches,
        async (scratch) => {
          if (remaining === 0) return null;
          this.#armTransfer(startedAt, record.bytes, "payload");
          const chunk = await this.#reader.readSome(remaining, scratch, "backup payload");
          remaining -= chunk.length;
          record.bytes += chunk.length;
          return chunk;
        },
        async (chunk) => {
          if (!upload || storageError !== undefined) return;
          try {
            await upload.write(chunk);
          } catch (error) {
            storageError = error;
            await upload.abort();
          }
        },
      );
      if (storageError !== undefined) throw storageError;
      await upload!.commit();
    } catch (error) {
      await upload?.abort();
      throw error;
    } finally {
      for (const scratch of scratches) buffers.release(scratch);
    }
  }

  /**
   * Sends a stored file: the header and the first bytes in one write, then the rest through two
   * buffers, the file filling one while the socket takes the other (one buffer if all fits it).
   */
  async #sendFile(header: RequestHeader, record: { bytes: number }): Promise<ResponseHeaderInit> {
    const { storage, buffers } = this.#ctx;
    using stored = await storage.open(header.userId, header.name);
    const size = stored.metadata.size;
    const response = { status: Status.FileRestored, name: header.name, payloadSize: size };
    const first = buffers.acquire(size);
    const headLength = encodeResponseHeader(response, first).length;
    const scratches = headLength + size <= first.length
      ? [first] as const
      : [first, buffers.acquire(size)] as const;
    const startedAt = performance.now();
    let written = 0;
    try {
      await relay(
        scratches,
        headerThenPayload(
          stored.source,
          size,
          headLength,
          (missing) => new Error(`${header.name} ended ${missing} bytes early`),
        ),
        async (chunk) => {
          this.#armTransfer(startedAt, record.bytes, "download");
          await this.#write(chunk, false);
          written += chunk.length;
          record.bytes = written - headLength;
        },
      );
      return response;
    } catch (error) {
      // Part of the response may be out: the only honest thing left is to close.
      throw new ConnectionLostError("retrieve aborted", { cause: error });
    } finally {
      for (const buffer of scratches) buffers.release(buffer);
    }
  }

  async #respond(response: ResponseHeaderInit): Promise<ResponseHeaderInit> {
    await this.#write(encodeResponseHeader(response));
    return response;
  }

  /**
   * Arms the deadline for the next chunk of a transfer: closed if no chunk moves within the frame
   * timeout, or if, after that first grace period, the average rate falls under the floor.
   */
  #armTransfer(startedAt: number, bytesDone: number, what: "payload" | "download"): void {
    const { frameTimeoutMs, minTransferRate } = this.#ctx.limits;
    let ms = frameTimeoutMs;
    let reason = `${what} stalled`;
    if (minTransferRate > 0) {
      const dueBy = startedAt + frameTimeoutMs + (bytesDone * 1000) / minTransferRate;
      const rateMs = dueBy - performance.now();
      if (rateMs < ms) {
        ms = Math.max(1, rateMs);
        reason = `${what} slower than ${minTransferRate} bytes/s`;
      }
    }
    this.#deadline.arm(ms, reason);
  }

  /** Writes all bytes, closing the connection if the client stops reading for too long. */
  async #write(bytes: Uint8Array, armDeadline = true): Promise<void> {
    if (armDeadline) this.#deadline.arm(this.#ctx.limits.frameTimeoutMs, "client stopped reading");
    try {
      await writeAll(this.#conn, bytes);
    } catch (error) {
      throw new ConnectionLostError("client went away during the response", { cause: error });
    }
  }

  #log(
    header: RequestHeader | undefined,
    bytes: number,
    status: number | "-",
    started: number,
    failure?: { error: unknown; level: "info" | "warn" | "error" },
  ): void {
    const record = {
      peer: this.#peer,
      userId: header?.userId,
      op: header ? OP_NAMES[header.op] : "-",
      name: header?.name || undefined,
      bytes,
      status,
      durationMs: Math.round((performance.now() - started) * 10) / 10,
      // 1001 and 1002 are ordinary answers; only a 1003 or a dropped connection carries its cause.
      error: failure && (status === "-" || status === Status.GeneralError)
        ? describe(failure.error)
        : undefined,
    };
    this.#ctx.stats.countRequest(record);
    if (!failure || failure.level === "info") this.#ctx.logger.request(record);
    else this.#ctx.logger[failure.level]("request failed", { ...record });
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : "";
  return `${error.name}: ${error.message}${cause}`;
}
