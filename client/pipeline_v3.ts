/**
 * One version 3 connection with many requests in flight: requests are written in the order they
 * get room in the window (`RequestWindow`), one reader loop takes the answers, pairs each with the
 * oldest request outstanding (`InFlightV3`: the server answers strictly in order) and settles that
 * request's promise. Anything that breaks the protocol, a lost connection or a server silent for
 * `timeoutMs` while answers are due ends the connection: every request waiting is rejected with
 * that one error, and so is every later one.
 *
 * @module
 */
import { ConnectionLostError, isSocketFailure } from "../io/connection_errors.ts";
import { ProtocolError } from "../protocol/errors.ts";
import { StatusV3, type TaggedOpV3 } from "../protocol/v3/constants.ts";
import { ResponseDecoderV3, type ResponseFrameV3 } from "../protocol/v3/frames.ts";
import type { HandshakeResponseV3 } from "../protocol/v3/handshake.ts";
import type { HandshakeIo } from "./handshake_v3.ts";
import { InFlightV3 } from "../protocol/v3/in_flight.ts";
import type { ResponseV3 } from "../protocol/v3/responses.ts";
import { ServerSpeaksTlsError } from "./client_errors.ts";
import { AnswerTimeoutError, errorForAnswerV3 } from "./errors_v3.ts";
import {
  DEFAULT_MAX_LIST_BYTES,
  DEFAULT_MAX_LIST_ENTRIES,
  DEFAULT_MAX_REQUESTS,
  DEFAULT_MAX_UNANSWERED_BYTES,
  DEFAULT_TIMEOUT_MS,
  type PipelineOptions,
} from "./pipeline_options_v3.ts";
import { REAL_TIMERS, SilenceTimer } from "./silence_timer_v3.ts";
import type { EntrySink } from "./entry_queue_v3.ts";
import { FrameWriter } from "./frame_writer_v3.ts";
import { startsLikeTls } from "./tls_record.ts";
import { RequestWindow } from "./window_v3.ts";

export * from "./pipeline_options_v3.ts";
export type { EntrySink };

/** Bytes of a 235 entry besides its record: id, stored time, record length. */
const ENTRY_HEAD_BYTES = 32 + 8 + 4;
/**
 * Bytes read from the socket at once: a restore's answers are blobs of up to a few MiB, and each
 * read is a trip through the event loop, so a read takes what the socket holds, up to this.
 */
const READ_BUFFER_BYTES = 256 * 1024;

interface Pending {
  op: TaggedOpV3;
  bytes: number;
  resolve(answer: ResponseV3): void;
  reject(error: unknown): void;
  entries?: EntrySink;
}

/** See the module comment. */
export class PipelineV3 {
  readonly #conn: Deno.Conn;
  readonly #decoder = new ResponseDecoderV3();
  readonly #inFlight = new InFlightV3();
  readonly #window: RequestWindow;
  readonly #writer: FrameWriter;
  readonly #silence: SilenceTimer;
  readonly #maxListEntries: number;
  readonly #maxListBytes: number;
  readonly #readBuffer = new Uint8Array(READ_BUFFER_BYTES);
  #pending: Pending[] = [];
  #first = 0;
  #nextTag = 1;
  #listing: { pending: Pending; entries: number; bytes: number } | undefined;
  #handshake: HandshakeResponseV3[] | undefined;
  #paused = false;
  #firstChunk = true;
  #reading: Promise<void> | undefined;
  #failed: unknown;

  /** A pipeline over `conn` (it owns it from now on). */
  constructor(conn: Deno.Conn, options: PipelineOptions = {}) {
    this.#conn = conn;
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#silence = new SilenceTimer(options.timers ?? REAL_TIMERS, timeoutMs, () => {
      const waiting = this.#handshake !== undefined ? 1 : this.#window.requests;
      this.#fail(new AnswerTimeoutError(timeoutMs, waiting));
    });
    this.#maxListEntries = options.maxListEntries ?? DEFAULT_MAX_LIST_ENTRIES;
    this.#maxListBytes = options.maxListBytes ?? DEFAULT_MAX_LIST_BYTES;
    this.#window = new RequestWindow({
      maxRequests: options.maxRequests ?? DEFAULT_MAX_REQUESTS,
      maxBytes: options.maxUnansweredBytes ?? DEFAULT_MAX_UNANSWERED_BYTES,
    });
    this.#writer = new FrameWriter(conn, {
      onProgress: () => this.#touch(),
      onError: (error) => this.#fail(connectionError(error, "while sending")),
    });
  }

  /** Requests sent and not answered (a list not yet ended counts). */
  get unanswered(): number {
    return this.#window.requests;
  }

  /**
   * Runs the handshake through `run` (its `send` and `next`), under the timeout, then starts the
   * reader loop.
   */
  async handshake<T>(run: (io: HandshakeIo) => Promise<T>): Promise<T> {
    this.#handshake = [];
    this.#touch();
    try {
      const result = await run({
        send: async (frame) => {
          this.#writer.enqueue([frame]);
          await this.#writer.drained();
          if (this.#failed !== undefined) throw this.#failed;
        },
        next: () => this.#nextHandshake(),
      });
      this.#handshake = undefined;
      this.#touch();
      this.#reading = this.#readLoop();
      return result;
    } catch (error) {
      this.#fail(error);
      throw error;
    }
  }

  /**
   * Sends a request once the window has room for `bytes` (an upper bound of its frame's size) and
   * resolves its answer. `encode` makes the frame's parts for the tag given, at that moment.
   *
   * @param entries for a ListSnapshots: where its entries go
   * @throws the error the answer stands for (`errorForAnswerV3`), or the error that ended the
   *   connection: {ProtocolError}, {ConnectionLostError}, {AnswerTimeoutError}.
   */
  call(
    op: TaggedOpV3,
    bytes: number,
    encode: (tag: number) => Uint8Array[],
    entries?: EntrySink,
  ): Promise<ResponseV3> {
    // A window with room sends at once: no promise and no turn per request before its answer's.
    let room: boolean;
    try {
      room = this.#window.tryAcquire(bytes);
    } catch (error) {
      return Promise.reject(error);
    }
    if (room) return this.#send(op, bytes, encode, entries);
    return this.#window.acquire(bytes).then(() => this.#send(op, bytes, encode, entries));
  }

  /** Encodes and queues a request that has its room in the window; resolves its answer. */
  #send(
    op: TaggedOpV3,
    bytes: number,
    encode: (tag: number) => Uint8Array[],
    entries?: EntrySink,
  ): Promise<ResponseV3> {
    let parts: Uint8Array[];
    const tag = this.#nextTag;
    try {
      if (this.#failed !== undefined) throw this.#failed;
      parts = encode(tag);
    } catch (error) {
      this.#window.release(bytes);
      return Promise.reject(error);
    }
    this.#nextTag = tag === 0xffff_ffff ? 1 : tag + 1;
    return new Promise<ResponseV3>((resolve, reject) => {
      this.#inFlight.sent({ tag, op });
      this.#pending.push({ op, bytes, resolve, reject, entries });
      this.#writer.enqueue(parts);
      this.#touch();
    });
  }

  /**
   * Ends the connection because the server broke the protocol in a way only the caller sees (an
   * answer that does not fit its request): every request waiting is rejected with `error`.
   */
  abort(error: unknown): void {
    this.#fail(error);
  }

  /** Ends the connection: requests still waiting are rejected; resolves once reading stopped. */
  async close(): Promise<void> {
    this.#fail(new ConnectionLostError("the session was closed"));
    await this.#reading;
    await this.#writer.drained();
  }

  async #nextHandshake(): Promise<HandshakeResponseV3> {
    while (this.#handshake!.length === 0) {
      const chunk = await this.#readChunk();
      if (chunk === null) {
        throw new ConnectionLostError("the server closed the connection during the handshake");
      }
      this.#touch();
      for (const frame of this.#decoder.push(chunk)) {
        if (frame.kind !== "handshake") {
          throw new ProtocolError(`a ${frame.kind} frame before the handshake ended`);
        }
        this.#handshake!.push(frame.response);
      }
    }
    return this.#handshake!.shift()!;
  }

  async #readLoop(): Promise<void> {
    try {
      for (;;) {
        const chunk = await this.#readChunk();
        if (chunk === null) return this.#ended();
        this.#touch();
        for (const frame of this.#decoder.push(chunk)) await this.#dispatch(frame);
      }
    } catch (error) {
      this.#fail(error);
    }
  }

  async #dispatch(frame: ResponseFrameV3): Promise<void> {
    if (frame.kind === "handshake") throw new ProtocolError("a handshake answer inside a session");
    if (frame.kind === "answer") {
      const op = this.#inFlight.answered(frame.response);
      const pending = this.#pending[this.#first++];
      if (this.#first === this.#pending.length) this.#pending = [], this.#first = 0;
      else if (this.#first >= 1024) {
        this.#pending = this.#pending.slice(this.#first), this.#first = 0;
      }
      if (frame.response.status === StatusV3.Snapshots) {
        this.#listing = { pending, entries: 0, bytes: 0 };
        pending.resolve(frame.response);
        return;
      }
      this.#window.release(pending.bytes);
      const error = errorForAnswerV3(op, frame.response);
      if (error) pending.reject(error);
      else pending.resolve(frame.response);
      this.#touch();
      return;
    }
    const listing = this.#listing!;
    if (frame.kind === "end-of-snapshots") {
      this.#listing = undefined;
      this.#window.release(listing.pending.bytes);
      listing.pending.entries?.end();
      this.#touch();
      return;
    }
    listing.bytes += ENTRY_HEAD_BYTES + frame.entry.record.length;
    if (++listing.entries > this.#maxListEntries || listing.bytes > this.#maxListBytes) {
      throw new ProtocolError(
        `the server listed more than ${
          listing.entries > this.#maxListEntries
            ? `${this.#maxListEntries} snapshots`
            : `${this.#maxListBytes} bytes of snapshots`
        } without ending the list, more than this client takes`,
      );
    }
    const waited = listing.pending.entries?.push(frame.entry);
    if (waited) {
      // The consumer is behind: the server is not the one silent while the reader waits.
      this.#paused = true;
      this.#touch();
      try {
        await waited;
      } finally {
        this.#paused = false;
        this.#touch();
      }
    }
  }

  #ended(): void {
    try {
      this.#decoder.end();
    } catch (error) {
      return this.#fail(error);
    }
    const waiting = this.#window.requests;
    this.#fail(
      new ConnectionLostError(
        `the server closed the connection${
          waiting > 0 ? ` with ${waiting} requests unanswered` : ""
        }`,
      ),
    );
  }

  async #readChunk(): Promise<Uint8Array | null> {
    let count: number | null;
    try {
      count = await this.#conn.read(this.#readBuffer);
    } catch (error) {
      if (this.#failed !== undefined) throw this.#failed;
      throw connectionError(error, "while reading");
    }
    if (this.#failed !== undefined) throw this.#failed;
    if (count === null) return null;
    const chunk = this.#readBuffer.subarray(0, count);
    if (this.#firstChunk) {
      this.#firstChunk = false;
      // A TLS server's alert read as an answer would be "version 21": say what it is.
      if (startsLikeTls(chunk)) throw new ServerSpeaksTlsError();
    }
    return chunk;
  }

  /** Something moved, or the work changed: the silence is counted from now, if answers are due. */
  #touch(): void {
    const due = this.#handshake !== undefined || this.#window.requests > 0;
    this.#silence.restart(due && this.#failed === undefined && !this.#paused);
  }

  #fail(error: unknown): void {
    if (this.#failed !== undefined) return;
    this.#failed = error;
    this.#silence.stop();
    this.#window.fail(error);
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
    const pending = this.#pending.slice(this.#first);
    this.#pending = [];
    this.#first = 0;
    this.#listing?.pending.entries?.fail(error);
    this.#listing = undefined;
    for (const request of pending) {
      request.entries?.fail(error);
      request.reject(error);
    }
  }
}

/** A socket's failure as the connection lost; anything else as it is. */
function connectionError(error: unknown, when: string): unknown {
  if (!isSocketFailure(error)) return error;
  return new ConnectionLostError(`the connection failed ${when}`, { cause: error });
}
