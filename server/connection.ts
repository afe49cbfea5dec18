/**
 * One client connection's life: TLS handshake, the request loop, its deadlines, errors turned into
 * answers and the close (`requests_v1_v2.ts` answers version 1 and 2, `session_v3.ts` version 3).
 *
 * @module
 */
import { MAX_REQUEST_HEADER_SIZE } from "../protocol/constants.ts";
import { BufferedReader } from "../io/buffered_reader.ts";
import { lingeringClose } from "../io/lingering_close.ts";
import { encodeErrorAnswer, outcomeForError, statusOf } from "./error_status.ts";
import { type AnyRequest, parseAnyRequest, requestName } from "./any_request.ts";
import { HeaderDeadlines } from "./header_deadlines.ts";
import type { ConnectionContext, ConnectionOptions } from "./connection_context.ts";
import { LINGER_BYTES, LINGER_MS } from "./connection_context.ts";
import { describe, type Failure, logRequest } from "./request_log.ts";
import { RequestsV1V2 } from "./requests_v1_v2.ts";
import { SessionV3 } from "./session_v3.ts";
import type { HelloRequestV3 } from "../protocol/v3/handshake.ts";
import { ResponseWriter } from "./response_writer.ts";
import { transferDeadline, type TransferIo, type TransferKind } from "./transfers.ts";
import type { Deadline } from "./watchdog.ts";

/** Read buffer per connection: room for the largest header plus pipelined requests behind it. */
const READ_BUFFER_SIZE = Math.max(16 * 1024, MAX_REQUEST_HEADER_SIZE);

/**
 * One client connection: reads requests one after another, answers each in full, until the client
 * closes, a request breaks the protocol, a deadline passes or the server shuts down. The version
 * byte of the first request decides the protocol: a version 2 Hello opens a version 2 session,
 * anything else is version 1, untouched (both answered by `RequestsV1V2`); a version 3 Hello hands
 * the connection to a `SessionV3`.
 */
export class Connection {
  readonly #conn: Deno.Conn;
  readonly #ctx: ConnectionContext;
  readonly #deadline: Deadline;
  readonly #reader: BufferedReader;
  readonly #peer: string;
  readonly #io: TransferIo;
  readonly #options: ConnectionOptions;
  readonly #deadlines: HeaderDeadlines;
  readonly #writer: ResponseWriter;
  readonly #requests: RequestsV1V2;
  #v3: SessionV3 | undefined;
  #version: 1 | 2 | 3 | undefined;
  #idle = true;
  /** Aborted by `close`. */
  readonly #closing = new AbortController();
  #closedBecause: string | undefined;

  /**
   * @param conn the accepted socket (TCP or TLS); this object closes it
   * @param deadline this connection's deadline from the server's watchdog
   * @param options what its listener allows
   */
  constructor(
    conn: Deno.Conn,
    ctx: ConnectionContext,
    deadline: Deadline,
    options: ConnectionOptions = {},
  ) {
    this.#conn = conn;
    this.#ctx = ctx;
    this.#deadline = deadline;
    this.#options = options;
    const { limits, access: { accountsRequired } } = ctx;
    this.#deadlines = new HeaderDeadlines(deadline, { limits, accountsRequired });
    this.#writer = new ResponseWriter(conn, { deadline, limits });
    this.#reader = new BufferedReader(conn, READ_BUFFER_SIZE);
    const addr = conn.remoteAddr as Deno.NetAddr;
    this.#peer = `${addr.hostname}:${addr.port}`;
    this.#io = {
      reader: this.#reader,
      buffers: ctx.buffers,
      write: (bytes, armDeadline) => this.#writer.write(bytes, armDeadline),
      defer: (bytes) => this.#writer.defer(bytes),
      armTransfer: (startedAt, done, what) => this.#armTransfer(startedAt, done, what),
      checkSession: () => this.#requests.checkSession(),
      closed: this.#closing.signal,
    };
    this.#requests = new RequestsV1V2(ctx, {
      io: this.#io,
      deadline,
      peerHost: addr.hostname,
      refuseV2: options.refuseV2,
      handshakeDone: () => this.#deadlines.handshakeDone(),
      sleep: (ms) => this.#sleep(ms),
    });
  }

  /** The client's address, `host:port`. */
  get peer(): string {
    return this.#peer;
  }

  /** True while waiting for the first byte of a request (safe to close at shutdown). */
  get idle(): boolean {
    return this.#v3 ? this.#v3.idle : this.#idle;
  }

  /** Closes the socket now; a pending read or write fails and `serve` returns. */
  close(reason: string): void {
    if (this.#closedBecause) return;
    this.#closedBecause = reason;
    this.#closing.abort();
    try {
      this.#conn.close();
    } catch {
      // already closed by the other side of the race: nothing left to release
    }
  }

  /** Serves requests until the connection ends. Never throws. */
  async serve(): Promise<void> {
    try {
      if (!await this.#tlsHandshake()) return;
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

  /**
   * Completes a TLS handshake within the frame timeout (a handshake is a frame like any other).
   * Resolves false if it failed; plain TCP resolves true at once.
   */
  async #tlsHandshake(): Promise<boolean> {
    if (!("handshake" in this.#conn)) return true;
    this.#idle = false;
    this.#deadlines.armForTlsHandshake();
    try {
      await (this.#conn as Deno.TlsConn).handshake();
      return true;
    } catch (error) {
      if (!this.#closedBecause) {
        this.#ctx.logger.info("TLS handshake failed", { peer: this.#peer, error: describe(error) });
      }
      return false;
    } finally {
      this.#deadline.disarm();
    }
  }

  /** Reads and answers one request. Resolves whether the connection stays open. */
  async #serveOne(): Promise<boolean> {
    let request: AnyRequest | undefined;
    let started = 0;
    const record = { bytes: 0 };
    try {
      // A held-back answer goes out now unless the next request is already here to carry it.
      if (this.#writer.holding && !this.#requestBuffered()) {
        await this.#writer.write(new Uint8Array());
      }
      const parsed = await this.#reader.readFrame(
        (bytes) => parseAnyRequest(bytes, this.#version),
        "request header",
        this.#armForHeader(),
      );
      this.#idle = false;
      started = performance.now();
      if (!parsed) return false; // the client closed between requests
      request = parsed;
      this.#version ??= request.version;
      this.#deadlines.requestRead(request, started);
      if (request.version === 3) {
        return await this.#serveV3(request.request as HelloRequestV3, started);
      }
      const status = await this.#requests.handle(request, record);
      this.#log(request, record.bytes, status, started);
      return true;
    } catch (error) {
      if (this.#closedBecause) return false;
      // A TLS client that goes without close_notify between requests has still closed cleanly.
      const between = request === undefined && this.#reader.buffered.length === 0;
      if (between && error instanceof Deno.errors.UnexpectedEof) return false;
      const outcome = outcomeForError(error);
      let answered = false;
      if (outcome.answer) {
        const version = request?.version ?? this.#version ?? 1;
        const bytes = encodeErrorAnswer(outcome.answer, version, requestName(request));
        answered = await this.#writer.write(bytes).then(() => true, () => false);
      }
      const status = outcome.answer ? statusOf(outcome.answer) : "-";
      this.#log(request, record.bytes, status, started || performance.now(), {
        error,
        level: outcome.level,
      });
      if (outcome.close && answered) await this.#lingeringClose();
      return !outcome.close;
    } finally {
      this.#deadline.disarm();
    }
  }

  /** The deadline while a header arrives (see `HeaderDeadlines.armForHeader`), and `idle`. */
  #armForHeader(): (begun: boolean) => void {
    const arm = this.#deadlines.armForHeader();
    return (begun) => {
      // Safe to close at shutdown unless a handshake is half done (its answer is awaited).
      this.#idle = !begun && !this.#requests.inHandshake;
      arm(begun);
    };
  }

  /** Whether a whole request is already buffered (a broken one counts: its answer comes at once). */
  #requestBuffered(): boolean {
    try {
      return parseAnyRequest(this.#reader.buffered, this.#version) !== undefined;
    } catch {
      return true;
    }
  }

  /**
   * A version 3 session takes over the connection from its Hello to its end (it answers, logs
   * and reads pipelined requests itself). Resolves false: the connection ends with it.
   */
  async #serveV3(hello: HelloRequestV3, started: number): Promise<false> {
    const ctx = this.#ctx;
    const session = this.#v3 = new SessionV3({
      ...ctx,
      conn: this.#conn,
      reader: this.#reader,
      deadline: this.#deadline,
      peer: this.#peer,
      peerHost: (this.#conn.remoteAddr as Deno.NetAddr).hostname,
      refuse: this.#options.refuseV2,
      closed: this.#closing.signal,
      armForHeader: () => this.#armForHeader(),
      handshakeDone: () => this.#deadlines.handshakeDone(),
      sleep: (ms) => this.#sleep(ms),
    });
    try {
      const { linger } = await session.serve(hello, started);
      if (linger && !this.#closedBecause) await this.#lingeringClose();
    } finally {
      this.close("server closed it"); // the reader's pending read ends with the socket
      await session.close();
    }
    return false;
  }

  #sleep(ms: number): Promise<void> {
    this.#deadline.disarm();
    return new Promise((resolve) => setTimeout(resolve, ms));
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

  #armTransfer(startedAt: number, bytesDone: number, what: TransferKind): void {
    const { ms, reason } = transferDeadline(this.#ctx.limits, { startedAt, bytesDone, what });
    this.#deadline.arm(ms, reason);
  }

  #log(
    request: AnyRequest | undefined,
    bytes: number,
    status: number | "-",
    started: number,
    failure?: Failure,
  ): void {
    logRequest(this.#ctx, { peer: this.#peer, request, bytes, status, started }, failure);
  }
}
