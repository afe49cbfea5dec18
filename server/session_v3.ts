/**
 * One version 3 connection after its Hello: the handshake (`handshake_v3.ts`), then tagged
 * requests read ahead and worked on several at once, answered strictly in request order. The
 * reader parses each head (the codec checks every count and length), waits for room in the
 * connection's window (`pipeline_window_v3.ts`: requests and bytes held), reads the body and
 * starts the request's work; the writer answers the oldest request once its work is done, small
 * answers gathered into one write. Calls on the store session run in request order; a GetBlob
 * waits only for the store changes asked before it, and runs beside other GetBlobs.
 *
 * @module
 */
import { ConnectionLostError } from "../io/connection_errors.ts";
import { writeAll } from "../io/byte_stream.ts";
import { StatusV3 } from "../protocol/v3/constants.ts";
import type { HandshakeRequestV3, HelloRequestV3 } from "../protocol/v3/handshake.ts";
import type { RequestV3 } from "../protocol/v3/requests.ts";
import type { SnapshotRepository } from "../storage/snapshots.ts";
import { ForbiddenError, type Session } from "./access.ts";
import { addAnswer, AnswerWriterV3 } from "./answers_v3.ts";
import {
  encodeErrorAnswer,
  encodeTaggedErrorAnswer,
  outcomeForError,
  outcomeForTaggedError,
  statusOf,
} from "./error_status.ts";
import { handshakeV3, type HandshakeV3Context } from "./handshake_v3.ts";
import type { Logger } from "./log.ts";
import { PipelineWindowV3 } from "./pipeline_window_v3.ts";
import { type ReadRequestV3, RequestReaderV3 } from "./request_reader_v3.ts";
import {
  brokenEntry,
  type EntryV3,
  longWork,
  settlesBefore,
  startEntry,
} from "./pipeline_entry_v3.ts";
import { type AnswerV3, requestIdV3, RequestsV3 } from "./requests_v3.ts";
import { SessionLogV3 } from "./session_log_v3.ts";
import { SplitDeadline } from "./split_deadline.ts";
import type { ServerStats } from "./stats.ts";

/** Answers gathered are held this long at most while the next request is still at work. */
const ANSWER_HOLD_MS = 2;

/** What a version 3 session needs of its connection and server. */
export interface SessionV3Context extends Omit<HandshakeV3Context, "answered"> {
  stats: ServerStats;
  logger: Logger;
  /** The client's `host:port`, for the log. */
  peer: string;
  /** Aborted once the connection is closed (by the watchdog, the server, or its end). */
  closed: AbortSignal;
  /** The handshake is over: the connection's idle and frame timeouts apply. */
  handshakeDone(): void;
  /** True once the server is shutting down: answer what was read, read no more. */
  isShuttingDown(): boolean;
}

/** See the module comment. */
export class SessionV3 {
  readonly #ctx: SessionV3Context;
  readonly #entries: EntryV3[] = [];
  #wakeWriter: (() => void) | undefined;
  #readerDone = false;
  #stopping = false;
  /** A request failed in a way that closes the connection: carry out none after it. */
  #closing = false;
  #reading: Promise<void> | undefined;
  #requests: RequestsV3 | undefined;
  #window: PipelineWindowV3 | undefined;
  #reader: RequestReaderV3 | undefined;
  /** Settles once the store changes asked so far are done (GetBlob waits for it). */
  #changes: Promise<unknown> = Promise.resolve();
  #session: Session | undefined;
  readonly #requestLog: SessionLogV3;

  /** @param ctx the connection's parts and the server's */
  constructor(ctx: SessionV3Context) {
    this.#ctx = ctx;
    this.#requestLog = new SessionLogV3(ctx);
  }

  /** Waiting for a request with nothing to answer: safe to close at shutdown. */
  get idle(): boolean {
    return (this.#reader?.betweenRequests ?? false) && this.#entries.length === 0;
  }

  /**
   * Serves the session from its Hello (read at `started`) to its end. Never throws: failures are
   * answered and logged here. Resolves whether a final 1003 went out (the caller then lingers).
   */
  async serve(hello: HelloRequestV3, started: number): Promise<{ linger: boolean }> {
    const current: { request: HandshakeRequestV3; started: number } = { request: hello, started };
    let signedIn;
    try {
      const answered = (request: HandshakeRequestV3, status: number, at: number) =>
        this.#requestLog.request(request, 0, status, at);
      signedIn = await handshakeV3({ ...this.#ctx, answered }, hello, current);
    } catch (error) {
      if (this.#ctx.closed.aborted) return { linger: false };
      const outcome = outcomeForError(error);
      let answered = false;
      if (outcome.answer) {
        const bytes = encodeErrorAnswer(outcome.answer, 3, "");
        answered = await writeAll(this.#ctx.conn, bytes).then(() => true, () => false);
      }
      const status = outcome.answer ? statusOf(outcome.answer) : "-";
      this.#requestLog.request(current.request, 0, status, current.started, {
        error,
        level: outcome.level,
      });
      return { linger: outcome.close && answered };
    }
    if ("closed" in signedIn) return { linger: false };
    this.#ctx.handshakeDone();
    return await this.#pipeline(signedIn.repository, signedIn.session);
  }

  /** Stops reading, waits for the reader, and ends the store session (its blobs kept). */
  async close(): Promise<void> {
    this.#stop();
    await this.#reading;
    try {
      await this.#requests?.close();
    } catch (error) {
      this.#ctx.logger.error("snapshot session failed to close", {
        peer: this.#ctx.peer,
        error: String(error),
      });
    }
  }

  async #pipeline(repository: SnapshotRepository, session: Session): Promise<{ linger: boolean }> {
    const { limits } = this.#ctx;
    const split = new SplitDeadline(this.#ctx.deadline);
    const window = this.#window = new PipelineWindowV3({
      maxRequests: limits.pipelineRequests,
      maxBytes: limits.pipelineBytes,
    });
    const reader = this.#reader = new RequestReaderV3(this.#ctx.reader, {
      deadline: split.part(),
      limits,
      window,
      owesAnswers: () => this.#entries.length > 0,
    });
    const writer = new AnswerWriterV3(this.#ctx.conn, { deadline: split.part(), limits });
    this.#session = session;
    this.#requests = new RequestsV3(repository, session.userId);
    this.#reading = this.#read(reader);
    try {
      return await this.#write(writer);
    } catch (error) {
      // A write that failed between answers (a flush): the client is gone, nothing to answer.
      if (!(error instanceof ConnectionLostError) && !this.#ctx.closed.aborted) {
        this.#ctx.logger.error("connection failed", { peer: this.#ctx.peer, error: String(error) });
      }
      return { linger: false };
    } finally {
      writer.discard();
      this.#stop();
      this.#requestLog.end();
    }
  }

  #stop(): void {
    this.#stopping = true;
    this.#window?.close();
    this.#reader?.stop();
  }

  /** The reader: requests read and started in order; a broken frame is queued last. */
  async #read(reader: RequestReaderV3): Promise<void> {
    try {
      while (!this.#stopping && !this.#ctx.isShuttingDown()) {
        const read = await reader.next();
        if (!read) break; // the client closed between requests
        this.#push(this.#start(read));
      }
    } catch (error) {
      const cleanEnd = reader.betweenRequests && error instanceof Deno.errors.UnexpectedEof;
      if (!this.#stopping && !this.#ctx.closed.aborted && !cleanEnd) {
        this.#push(brokenEntry(error));
      }
    } finally {
      reader.stop();
      this.#readerDone = true;
      this.#wakeWriter?.();
    }
  }

  /** Starts a request's work in its place in the order (see the module comment). */
  #start(read: ReadRequestV3): EntryV3 {
    const carryOut = (request: RequestV3) => this.#carryOut(request);
    const { entry, changes } = startEntry(read, this.#changes, carryOut, this.#window!);
    this.#changes = changes;
    return entry;
  }

  async #carryOut(request: RequestV3): Promise<AnswerV3> {
    // Requests read behind one whose failure closes the connection (another user's id, a removed
    // key) are not carried out: the client gets no answer to them, so they must not have happened.
    if (this.#stopping || this.#closing) throw new ConnectionLostError("the session is ending");
    try {
      // A reload of the accounts reaches the session at its next request (and may end it).
      const session = this.#session = this.#ctx.access.refresh(this.#session!);
      if (request.userId !== session.userId) {
        throw new ForbiddenError(
          `request for user ${request.userId} on a connection authenticated as user ${session.userId}`,
          true,
        );
      }
      return await this.#requests!.handle(request, session);
    } catch (error) {
      if (outcomeForTaggedError(error).close) this.#closing = true;
      throw error;
    }
  }

  #push(entry: EntryV3): void {
    this.#entries.push(entry);
    this.#wakeWriter?.();
  }

  /** The writer: answers in request order until the reader ends or an answer closes. */
  async #write(writer: AnswerWriterV3): Promise<{ linger: boolean }> {
    while (true) {
      const entry = await this.#next(writer);
      if (!entry) return { linger: false };
      // Answers gathered wait for this one's work 2 ms at most (none for a large blob's): a write
      // per answer was a tenth of the server's CPU for a tree of small files, and answers held a
      // millisecond or two cost the client nothing (its window holds far more).
      if (!entry.settled && writer.gathered > 0) {
        const passed = longWork(entry) ? Promise.resolve() : writer.heldFor(ANSWER_HOLD_MS);
        if (!(await settlesBefore(entry, passed))) await writer.flush();
      }
      let answer: AnswerV3 | undefined;
      let failure: unknown;
      try {
        answer = await entry.result;
      } catch (error) {
        failure = error;
      }
      if (answer) {
        try {
          const bytes = await addAnswer(writer, answer);
          this.#requestLog.request(
            entry.request,
            bytes,
            "response" in answer ? answer.response.status : StatusV3.Snapshots,
            entry.started,
          );
        } catch (error) {
          if (!this.#ctx.closed.aborted) {
            this.#requestLog.request(entry.request, 0, "-", entry.started, {
              error,
              level: "info",
            });
          }
          return { linger: false };
        }
      } else {
        if (this.#ctx.closed.aborted) return { linger: false };
        const outcome = outcomeForTaggedError(failure);
        let answered = false;
        if (outcome.answer) {
          const id = requestIdV3(entry.request);
          const bytes = encodeTaggedErrorAnswer(outcome.answer, entry.tag, id);
          const sent = writer.add([bytes]).then(() => outcome.close ? writer.flush() : undefined);
          answered = await sent.then(() => true, () => false);
        }
        const status = outcome.answer ? statusOf(outcome.answer) : "-";
        this.#requestLog.request(entry.request, 0, status, entry.started, {
          error: failure,
          level: outcome.level,
        });
        if (outcome.close || !answered) return { linger: outcome.close && answered };
      }
      this.#entries.shift();
      this.#window!.release(entry.held, entry.admitted);
      if (this.#entries.length > 0) continue;
      if (this.#ctx.isShuttingDown()) {
        await writer.flush().catch(() => {});
        return { linger: false }; // everything read is answered: the connection may go
      }
      this.#reader!.answered();
    }
  }

  /** The oldest request not yet answered; `undefined` once the reader ended and all are answered. */
  async #next(writer: AnswerWriterV3): Promise<EntryV3 | undefined> {
    while (this.#entries.length === 0) {
      if (this.#readerDone) {
        await writer.flush();
        return undefined;
      }
      // A request half read: its sender is still writing, not waiting for these answers, which
      // go with its own (held ANSWER_HOLD_MS at most, as above). Over TLS a body comes a record
      // at a time, and most answer writes went out in the gaps (docs/performance.md).
      const holding = writer.gathered > 0 && !this.#reader!.betweenRequests;
      const hold = holding ? ANSWER_HOLD_MS - writer.heldMs() : 0;
      if (hold <= 0) await writer.flush(); // nothing more to gather until the client sends
      if (this.#entries.length > 0 || this.#readerDone) continue;
      const { promise, resolve } = Promise.withResolvers<void>();
      this.#wakeWriter = resolve;
      if (hold > 0) void writer.heldFor(ANSWER_HOLD_MS).then(resolve);
      await promise;
      this.#wakeWriter = undefined;
    }
    return this.#entries[0];
  }
}
