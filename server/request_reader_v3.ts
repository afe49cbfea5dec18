/**
 * Reading a version 3 connection's tagged requests ahead of their answers: a head (every count
 * and length checked by the codec before anything is allocated), room in the connection's
 * window for what the request will hold, then its body, allocated at its checked length and read
 * straight from the socket. Each wait has its deadline: the idle timeout for a request's first
 * byte (only while the server owes no answer), the frame timeout for the rest of its head, the
 * transfer deadline (frame timeout and rate floor) for its body.
 *
 * @module
 */
import { ConnectionLostError } from "../io/connection_errors.ts";
import type { BufferedReader } from "../io/buffered_reader.ts";
import { MAX_DATA_BLOB_BYTES, MAX_STORED_OVERHEAD, OpV3 } from "../protocol/v3/constants.ts";
import {
  decodeRequestBodyV3,
  parseRequestHeadV3,
  type RequestV3,
} from "../protocol/v3/requests.ts";
import type { ServerLimits } from "./limits.ts";
import type { PipelineWindowV3 } from "./pipeline_window_v3.ts";
import { transferDeadline } from "./transfers.ts";
import type { Deadline } from "./watchdog.ts";

/**
 * What a GetBlob is held at in the window until its blob is read (then: the blob's bytes): the
 * largest data blob. A tree's answer may be larger; it is held at its size once read.
 */
export const GET_BLOB_RESERVE: number = MAX_DATA_BLOB_BYTES + MAX_STORED_OVERHEAD;

const EMPTY = new Uint8Array(0);

/** A request read, admitted to the window. */
export interface ReadRequestV3 {
  request: RequestV3;
  /** `performance.now()` when its head was in. */
  started: number;
  /** Bytes the window holds for it. */
  held: number;
}

/** What a `RequestReaderV3` works with. */
export interface RequestReaderOptions {
  /** The reader's countdown (a part of the connection's deadline). */
  deadline: Deadline;
  /** The idle, frame and transfer limits. */
  limits: ServerLimits;
  /** The connection's window: the reader waits in it for room. */
  window: PipelineWindowV3;
  /** Whether the server owes answers now (then waiting for a request has no idle timeout). */
  owesAnswers(): boolean;
}

/** Reads requests one after another; see the module comment. */
export class RequestReaderV3 {
  readonly #reader: BufferedReader;
  readonly #options: RequestReaderOptions;
  #waitingFirstByte = false;
  #stopped = false;

  /** @param reader the connection's reader (bytes after the handshake may be buffered in it) */
  constructor(reader: BufferedReader, options: RequestReaderOptions) {
    this.#reader = reader;
    this.#options = options;
  }

  /** Whether it waits for the first byte of a request, nothing of one buffered. */
  get betweenRequests(): boolean {
    return this.#waitingFirstByte && this.#reader.buffered.length === 0;
  }

  /**
   * The next request, admitted to the window and read in full; `null` if the client closed
   * between requests.
   *
   * @throws {TaggedProtocolError} for a head that breaks the protocol (its tag in the error).
   * @throws {UnexpectedEofError} if the client closed inside a request.
   * @throws {ConnectionLostError} once `stop` was called (at its next wait), or if the socket failed.
   */
  async next(): Promise<ReadRequestV3 | null> {
    const head = await this.#reader.readFrame(
      parseRequestHeadV3,
      "request header",
      this.#armHead(),
    );
    this.#waitingFirstByte = false;
    if (!head) return null;
    const started = performance.now();
    this.#options.deadline.disarm(); // waiting for room is the server's doing, not the client's
    const held = head.op === OpV3.GetBlob ? GET_BLOB_RESERVE : head.bodyLength;
    await this.#options.window.admit(held);
    const body = await this.#readBody(head.bodyLength);
    return { request: decodeRequestBodyV3(head, body), started, held };
  }

  /** Arms the idle timeout if it waits for a request and the server owes no answer now. */
  answered(): void {
    if (this.#waitingFirstByte) this.#armIdle();
  }

  /** Makes the next wait throw; disarms the deadline. */
  stop(): void {
    this.#stopped = true;
    this.#options.deadline.disarm();
  }

  #armHead(): (begun: boolean) => void {
    let frameArmed = false;
    return (begun) => {
      this.#checkStopped();
      if (!begun) {
        this.#waitingFirstByte = true;
        this.#armIdle();
      } else if (!frameArmed) {
        frameArmed = true;
        this.#waitingFirstByte = false;
        this.#options.deadline.arm(this.#options.limits.frameTimeoutMs, "frame timeout");
      }
    };
  }

  #armIdle(): void {
    const { deadline, limits } = this.#options;
    if (this.#options.owesAnswers()) deadline.disarm();
    else deadline.arm(limits.idleTimeoutMs, "idle timeout");
  }

  async #readBody(length: number): Promise<Uint8Array> {
    if (length === 0) return EMPTY;
    const body = new Uint8Array(length);
    const startedAt = performance.now();
    const { deadline, limits } = this.#options;
    for (let filled = 0; filled < length;) {
      this.#checkStopped();
      const { ms, reason } = transferDeadline(limits, {
        startedAt,
        bytesDone: filled,
        what: "payload",
      });
      deadline.arm(ms, reason);
      const target = body.subarray(filled);
      const chunk = await this.#reader.readSome(length - filled, target, "request body");
      if (chunk.buffer !== body.buffer || chunk.byteOffset !== target.byteOffset) {
        body.set(chunk, filled); // bytes that came buffered behind the head
      }
      filled += chunk.length;
    }
    deadline.disarm();
    return body;
  }

  #checkStopped(): void {
    if (this.#stopped) throw new ConnectionLostError("the session is ending");
  }
}
