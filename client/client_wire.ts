/**
 * One client connection's byte layer: sending, reading frames and payloads, and replacing a
 * connection the server closed between requests (replaying the request when that is safe).
 *
 * @module
 */
import { MAX_RESPONSE_HEADER_SIZE } from "../protocol/constants.ts";
import { ConnectionLostError } from "../io/connection_errors.ts";
import { ServerError } from "./client_errors.ts";
import { BufferedReader, type FrameParser } from "../io/buffered_reader.ts";
import { type ByteSource, writeAll } from "../io/byte_stream.ts";
import { isSocketFailure } from "../io/connection_errors.ts";
import { headerThenPayload, relay } from "../io/relay.ts";

const TRANSFER_BUFFER_SIZE = 1024 * 1024;
const READ_BUFFER_SIZE = 16 * 1024 + MAX_RESPONSE_HEADER_SIZE;

/** The server closed the connection before any byte of the answer: a request that can be replayed. */
export class ClosedBeforeAnswerError extends ConnectionLostError {}

/** See the module comment. */
export class ClientWire {
  readonly #open: () => Promise<Deno.Conn>;
  /** Two transfer buffers: one is filled while the other is sent or written. */
  readonly #buffers = [
    new Uint8Array(TRANSFER_BUFFER_SIZE),
    new Uint8Array(TRANSFER_BUFFER_SIZE),
  ] as const;
  #conn: Deno.Conn | undefined;
  #reader: BufferedReader | undefined;
  #answered = 0;

  /** @param open opens a connection and calls `attach` with it (it may exchange a handshake) */
  constructor(open: () => Promise<Deno.Conn>) {
    this.#open = open;
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
    if (!this.#conn) await this.connect();
    const reused = this.#answered > 0;
    try {
      const result = await run();
      this.#answered++;
      return result;
    } catch (error) {
      if (error instanceof ServerError || error instanceof ConnectionLostError) this.close();
      if (error instanceof ClosedBeforeAnswerError && reused && replayable) {
        await this.connect();
        const result = await run();
        this.#answered++;
        return result;
      }
      throw error;
    }
  }

  /** Sends bytes; `firstBytes` says whether a failure means the request was never seen. */
  async send(bytes: Uint8Array, firstBytes = true): Promise<void> {
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

  /** Reads one frame. @throws {ClosedBeforeAnswerError} if the server closed before it. */
  async readFrame<T>(parse: FrameParser<T>, what: string): Promise<T> {
    let parsed;
    try {
      parsed = await this.#reader!.readFrame(parse, what);
    } catch (error) {
      if (!isSocketFailure(error)) throw error;
      throw new ConnectionLostError("the connection failed while waiting for an answer", {
        cause: error,
      });
    }
    if (!parsed) throw new ClosedBeforeAnswerError("the server closed the connection unanswered");
    return parsed;
  }

  async #readSome(limit: number, scratch: Uint8Array): Promise<Uint8Array> {
    try {
      return await this.#reader!.readSome(limit, scratch, "response payload");
    } catch (error) {
      if (!isSocketFailure(error)) throw error;
      throw new ConnectionLostError("the connection failed during a download", { cause: error });
    }
  }
}
