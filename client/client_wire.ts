/**
 * One client connection's byte layer: sending, reading frames and payloads, and replacing a
 * connection the server closed between requests (replaying the request when that is safe).
 *
 * @module
 */
import { MAX_RESPONSE_HEADER_SIZE } from "../protocol/constants.ts";
import { FileNotFoundError, ProtocolError } from "../protocol/errors.ts";
import { BufferedReader, type FrameParser } from "../io/buffered_reader.ts";
import { type ByteSource, writeAll } from "../io/byte_stream.ts";
import { ConnectionLostError, isSocketFailure } from "../io/connection_errors.ts";
import { ServerError, ServerSpeaksTlsError } from "./client_errors.ts";
import { startsLikeTls } from "./tls_record.ts";
import { headerThenPayload, relay } from "../io/relay.ts";

const TRANSFER_BUFFER_SIZE = 1024 * 1024;
const READ_BUFFER_SIZE = 16 * 1024 + MAX_RESPONSE_HEADER_SIZE;

/** The server closed the connection before any byte of the answer: a request that can be replayed. */
export class ClosedBeforeAnswerError extends ConnectionLostError {}

/** How long the client waits for a server's answer unless told otherwise. */
export const DEFAULT_RESPONSE_TIMEOUT_MS = 60_000;

/** What a read may do when the server stays silent for a while (see `readFrame`). */
export interface IfSilent {
  /** Milliseconds without a byte of the answer. */
  ms: number;
  /** Called once then; the read goes on waiting. */
  then: () => void;
}

/** Options of a `ClientWire`. */
export interface WireOptions {
  /** How long to wait for any byte of an answer before giving up; 0: forever. @default 60000 */
  timeoutMs?: number;
  /**
   * Use a fresh connection after an error status (version 1: servers out there close after it,
   * or pad it). @default false
   */
  freshAfterErrorAnswer?: boolean;
}

/** See the module comment. */
export class ClientWire {
  readonly #open: () => Promise<Deno.Conn>;
  readonly #timeoutMs: number;
  #reusable = true;
  /**
   * Two transfer buffers: one is filled while the other is sent or written. Made at the first
   * payload: a client that only signs in and lists (2 MiB a connection) never needs them.
   */
  #transferBuffers: readonly [Uint8Array, Uint8Array] | undefined;
  #conn: Deno.Conn | undefined;
  #reader: BufferedReader | undefined;
  #answered = 0;
  /** No frame was read on this connection yet: its first bytes may be a TLS server's. */
  #firstFrame = true;
  /** Bytes of a request went out in this exchange: after a failure, its answer may be unread. */
  #sent = false;

  readonly #freshAfterErrorAnswer: boolean;

  /**
   * @param open opens a connection and calls `attach` with it (it may exchange a handshake)
   */
  get #buffers(): readonly [Uint8Array, Uint8Array] {
    return this.#transferBuffers ??= [
      new Uint8Array(TRANSFER_BUFFER_SIZE),
      new Uint8Array(TRANSFER_BUFFER_SIZE),
    ];
  }

  constructor(open: () => Promise<Deno.Conn>, options: WireOptions = {}) {
    this.#open = open;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_RESPONSE_TIMEOUT_MS;
    this.#freshAfterErrorAnswer = options.freshAfterErrorAnswer ?? false;
  }

  /** The connection will not be used for another request (it was sent something unusual). */
  doNotReuse(): void {
    this.#reusable = false;
  }

  /** Opens the connection. */
  async connect(): Promise<void> {
    const conn = await this.#open();
    if (this.#conn !== conn) this.attach(conn);
  }

  /** Uses `conn` from now on. */
  attach(conn: Deno.Conn): void {
    this.#conn = conn;
    this.#reader = new BufferedReader(conn, READ_BUFFER_SIZE);
    this.#answered = 0;
    this.#reusable = true;
    this.#firstFrame = true;
  }

  /** Closes the connection; the next exchange opens another. */
  close(): void {
    try {
      this.#conn?.close();
    } catch {
      // already closed
    }
    this.#conn = undefined;
    this.#reader = undefined;
  }

  /**
   * Runs one request-response exchange, connecting first if needed. A connection the server
   * closed after an earlier answer is replaced, and a replayable request is sent once more.
   */
  async exchange<T>(replayable: boolean, run: () => Promise<T>): Promise<T> {
    if (!this.#conn || !this.#reusable) {
      this.close();
      await this.connect();
    }
    const reused = this.#answered > 0;
    this.#sent = false;
    try {
      const result = await run();
      this.#answered++;
      return result;
    } catch (error) {
      // After an error answer a server may close, or pad its answer: the next request gets a
      // fresh connection. So does one after an answer that broke the protocol, and one whose
      // exchange failed part-way for any other reason (a local disk full mid-download): the rest
      // of its answer would be read as the next one's. Only a connection known to be in step (a
      // complete exchange, or nothing sent) is used again.
      if (isAnswer(error)) this.#answered++;
      if (
        isAnswer(error) || error instanceof ProtocolError ||
        error instanceof ConnectionLostError || this.#sent
      ) {
        this.close();
      }
      if (error instanceof ClosedBeforeAnswerError && reused && replayable) {
        return await this.exchange(false, run);
      }
      throw error;
    }
  }

  /** Sends bytes; `firstBytes` says whether a failure means the request was never seen. */
  async send(bytes: Uint8Array, firstBytes = true): Promise<void> {
    this.#sent = true;
    try {
      await writeAll(this.#conn!, bytes);
    } catch (error) {
      if (!isSocketFailure(error)) throw error;
      const message = "the server closed the connection";
      throw firstBytes
        ? new ClosedBeforeAnswerError(message, { cause: error })
        : new ConnectionLostError(message, { cause: error });
    }
  }

  /**
   * Sends a header and `size` payload bytes from `source`: the header and the first bytes in one
   * write, then the rest, the source filling one buffer while the socket takes the other.
   */
  async sendPayload(
    head: Uint8Array,
    source: ByteSource,
    size: number,
    onChunk: (payload: Uint8Array, done: number) => void,
    name: string,
  ): Promise<void> {
    this.#buffers[0].set(head);
    let written = 0;
    await relay(
      this.#buffers,
      headerThenPayload(source, size, head.length, (missing) => {
        // The header promised more bytes than exist: the stream cannot be put back in step.
        this.close();
        return new Error(`the source of ${name} ended ${missing} bytes before its size ${size}`);
      }),
      async (chunk) => {
        await this.send(chunk, written === 0);
        const payload = written === 0 ? chunk.subarray(head.length) : chunk;
        written += chunk.length;
        onChunk(payload, written - head.length);
      },
    );
  }

  /**
   * Sends a request's payload; if the connection is cut part-way (a server that refuses a size or
   * a quota answers and closes), reads the answer that may already be there and throws the error
   * `refusal` makes of it, so that a refusal is named as one; else the lost connection.
   */
  async sendOrRefused(
    send: () => Promise<void>,
    refusal: () => Promise<Error | undefined>,
  ): Promise<void> {
    try {
      await send();
    } catch (error) {
      if (!(error instanceof ConnectionLostError) || error instanceof ClosedBeforeAnswerError) {
        throw error;
      }
      throw (await refusal().catch(() => undefined)) ?? error;
    }
  }

  /** Receives `size` payload bytes: the socket fills one buffer while `onChunk` takes the other. */
  async receivePayload(
    size: number,
    onChunk: (chunk: Uint8Array, done: number) => Promise<void>,
  ): Promise<void> {
    let remaining = size;
    let done = 0;
    await relay(
      this.#buffers,
      async (buffer) => {
        if (remaining === 0) return null;
        const chunk = await this.#readSome(remaining, buffer);
        remaining -= chunk.length;
        return chunk;
      },
      async (chunk) => {
        done += chunk.length;
        await onChunk(chunk, done);
      },
    );
  }

  /**
   * Reads one frame; `ifSilent` acts once if no byte of it comes for a while.
   *
   * @throws {ClosedBeforeAnswerError} if the server closed before it; {ConnectionLostError} if
   *   nothing came within the response timeout.
   */
  async readFrame<T>(parse: FrameParser<T>, what: string, ifSilent?: IfSilent): Promise<T> {
    let silence: ReturnType<typeof setTimeout> | undefined;
    // A TLS server's alert read as an answer would be "version 21, status 771": say what it is.
    const checked: FrameParser<T> = !this.#firstFrame ? parse : (bytes) => {
      if (startsLikeTls(bytes)) throw new ServerSpeaksTlsError();
      return parse(bytes);
    };
    this.#firstFrame = false;
    const parsed = await this.#timed(
      "waiting for an answer",
      () =>
        this.#reader!.readFrame(checked, what, (started) => {
          if (!started && ifSilent && silence === undefined) {
            silence = setTimeout(ifSilent.then, ifSilent.ms);
          } else if (started) clearTimeout(silence);
        }),
    ).catch((error) => {
      // The reader's buffer holds the largest answer header the protocol allows: a longer one is
      // the server's fault (a declared name length past the limit), not a local failure.
      if (!(error instanceof RangeError)) throw error;
      throw new ProtocolError(
        `the server sent a ${what} larger than ${READ_BUFFER_SIZE} bytes, more than the protocol allows`,
      );
    }).finally(() => clearTimeout(silence));
    if (!parsed) throw new ClosedBeforeAnswerError("the server closed the connection unanswered");
    return parsed;
  }

  #readSome(limit: number, scratch: Uint8Array): Promise<Uint8Array> {
    return this.#timed(
      "during a download",
      () => this.#reader!.readSome(limit, scratch, "response payload"),
    );
  }

  /** Runs a read; closes the connection if it takes longer than the response timeout. */
  async #timed<T>(what: string, read: () => Promise<T>): Promise<T> {
    let timedOut = false;
    const timer = this.#timeoutMs > 0
      ? setTimeout(() => {
        timedOut = true;
        this.close();
      }, this.#timeoutMs)
      : undefined;
    try {
      return await read();
    } catch (error) {
      if (timedOut) {
        throw new ConnectionLostError(
          `no answer from the server within ${this.#timeoutMs / 1000} s (${what})`,
        );
      }
      if (!isSocketFailure(error)) throw error;
      throw new ConnectionLostError(`the connection failed ${what}`, { cause: error });
    } finally {
      clearTimeout(timer);
    }
  }
}

/** An error that is an answer of the server (an error status), not a failure to get one. */
function isAnswer(error: unknown): boolean {
  return error instanceof FileNotFoundError || error instanceof ServerError;
}
