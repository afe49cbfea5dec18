/**
 * Decoding a version 3 byte stream as it arrives, in pieces of any size: the handshake, then tagged
 * frames, and a 235's entries up to their end mark. Memory stays bounded by the declared limits: a
 * head is read into a fixed buffer of the largest head's size, and a body is allocated only once
 * its head has been checked, at exactly its declared length. Pure: the caller does the reading.
 *
 * @module
 */
import { ProtocolError } from "../errors.ts";
import { compareBytes } from "../list.ts";
import {
  MAX_REQUEST_HEAD_SIZE_V3,
  MAX_RESPONSE_HEAD_SIZE_V3,
  OpV3,
  StatusV3,
} from "./constants.ts";
import { TruncatedStreamError } from "./errors.ts";
import {
  type HandshakeRequestV3,
  type HandshakeResponseV3,
  parseHandshakeRequestV3,
  parseHandshakeResponseV3,
} from "./handshake.ts";
import { decodeRequestBodyV3, parseRequestHeadV3, type RequestV3 } from "./requests.ts";
import {
  decodeResponseBodyV3,
  parseResponseHeadV3,
  parseSnapshotEntryHead,
  type ResponseV3,
  type SnapshotEntry,
} from "./responses.ts";

/** A frame a server reads: Hello, then Auth, then tagged requests. */
export type RequestFrameV3 =
  | { kind: "handshake"; request: HandshakeRequestV3 }
  | { kind: "request"; request: RequestV3 };

/** A frame a client reads: handshake answers, tagged answers, a 235's entries and its end mark. */
export type ResponseFrameV3 =
  | { kind: "handshake"; response: HandshakeResponseV3 }
  | { kind: "answer"; response: ResponseV3 }
  | { kind: "snapshot"; tag: number; entry: SnapshotEntry }
  | { kind: "end-of-snapshots"; tag: number };

/** A head as a decoder needs it: its length, its body's, and how to finish the frame. */
interface Head<Out> {
  byteLength: number;
  bodyLength: number;
  finish(body: Uint8Array): Out;
}

const EMPTY = new Uint8Array(0);

/** Assembles frames from pieces of a stream; its owner says how to parse the next head. */
class FrameAssembler<Out> {
  readonly #head: Uint8Array;
  #headFill = 0;
  #body: Uint8Array | undefined;
  #bodyFill = 0;
  #finish: ((body: Uint8Array) => Out) | undefined;
  #failed: unknown;

  /**
   * @param maxHeadSize the largest head `nextHead` can be given
   * @param nextHead the next head from the start of `bytes`, or `undefined` while incomplete
   * @param unfinished why the stream may not end between frames now, or `undefined` if it may
   */
  constructor(
    maxHeadSize: number,
    readonly nextHead: (bytes: Uint8Array) => Head<Out> | undefined,
    readonly unfinished: () => string | undefined,
  ) {
    this.#head = new Uint8Array(maxHeadSize);
  }

  /**
   * Takes the next piece of the stream; returns the frames it completed, in order.
   *
   * @throws {ProtocolError} for a frame that breaks the protocol; the decoder then refuses more.
   */
  push(chunk: Uint8Array): Out[] {
    if (this.#failed !== undefined) throw this.#failed;
    try {
      return this.#push(chunk);
    } catch (error) {
      this.#failed = error;
      throw error;
    }
  }

  /**
   * Says the stream ended.
   *
   * @throws {TruncatedStreamError} if it ended inside a frame or inside a list of snapshots.
   */
  end(): void {
    if (this.#failed !== undefined) throw this.#failed;
    if (this.#headFill > 0 || this.#body) {
      throw new TruncatedStreamError("the stream ended inside a frame");
    }
    const why = this.unfinished();
    if (why) throw new TruncatedStreamError(why);
  }

  #push(chunk: Uint8Array): Out[] {
    const out: Out[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.#body) {
        const count = Math.min(this.#body.length - this.#bodyFill, chunk.length - at);
        this.#body.set(chunk.subarray(at, at + count), this.#bodyFill);
        this.#bodyFill += count;
        at += count;
        if (this.#bodyFill === this.#body.length) {
          const body = this.#body;
          this.#body = undefined;
          out.push(this.#finish!(body));
        }
        continue;
      }
      const count = Math.min(this.#head.length - this.#headFill, chunk.length - at);
      this.#head.set(chunk.subarray(at, at + count), this.#headFill);
      const head = this.nextHead(this.#head.subarray(0, this.#headFill + count));
      if (!head) {
        // The buffer holds the largest head there is: one still incomplete is a codec bug.
        if (this.#headFill + count === this.#head.length) throw new Error("head past its maximum");
        this.#headFill += count;
        at += count;
        continue;
      }
      // Bytes copied past the head belong to its body or the next frame: take them from `chunk`.
      at += head.byteLength - this.#headFill;
      this.#headFill = 0;
      if (head.bodyLength === 0) {
        out.push(head.finish(EMPTY));
      } else {
        this.#body = new Uint8Array(head.bodyLength);
        this.#bodyFill = 0;
        this.#finish = head.finish;
      }
    }
    return out;
  }
}

/**
 * Decodes what a client sends: a Hello, an Auth, then tagged requests.
 *
 * @example
 * ```ts
 * import { RequestDecoderV3 } from "./frames.ts";
 * import assert from "node:assert/strict";
 * const decoder = new RequestDecoderV3();
 * assert.deepEqual(decoder.push(new Uint8Array([77, 0, 0, 0, 3])), []);
 * assert.deepEqual(decoder.push(new Uint8Array([1])), [
 *   { kind: "handshake", request: { op: 1, userId: 77 } },
 * ]);
 * decoder.end();
 * ```
 */
export class RequestDecoderV3 {
  #expect: "hello" | "auth" | "tagged";
  readonly #frames = new FrameAssembler<RequestFrameV3>(
    MAX_REQUEST_HEAD_SIZE_V3,
    (bytes) => this.#nextHead(bytes),
    () => undefined,
  );

  /**
   * A decoder at the start of a connection's requests.
   * @param options `authenticated`: the handshake is over, start with tagged requests
   */
  constructor(options: { authenticated?: boolean } = {}) {
    this.#expect = options.authenticated ? "tagged" : "hello";
  }

  /**
   * Takes the next piece of the stream; returns the requests it completed, in order.
   *
   * @throws {ProtocolError} for a frame that breaks the protocol; the decoder then refuses more.
   */
  push(chunk: Uint8Array): RequestFrameV3[] {
    return this.#frames.push(chunk);
  }

  /** Says the stream ended. @throws {TruncatedStreamError} if it ended inside a frame. */
  end(): void {
    this.#frames.end();
  }

  #nextHead(bytes: Uint8Array): Head<RequestFrameV3> | undefined {
    if (this.#expect !== "tagged") {
      const parsed = parseHandshakeRequestV3(bytes);
      if (!parsed) return undefined;
      const { byteLength, ...request } = parsed;
      const wanted = this.#expect === "hello" ? OpV3.Hello : OpV3.Auth;
      if (request.op !== wanted) {
        throw new ProtocolError(`op ${request.op} where the handshake expects op ${wanted}`);
      }
      this.#expect = this.#expect === "hello" ? "auth" : "tagged";
      return { byteLength, bodyLength: 0, finish: () => ({ kind: "handshake", request }) };
    }
    const head = parseRequestHeadV3(bytes);
    if (!head) return undefined;
    const { byteLength, ...fields } = head;
    return {
      byteLength,
      bodyLength: head.bodyLength,
      finish: (body) => ({ kind: "request", request: decodeRequestBodyV3(fields, body) }),
    };
  }
}

/**
 * Decodes what a server sends: handshake answers up to a 221, then tagged answers; after a 235,
 * snapshot entries (oldest first, by stored time and then id, each after the one before) up to the
 * end mark.
 *
 * @example
 * ```ts
 * import { ResponseDecoderV3 } from "./frames.ts";
 * import assert from "node:assert/strict";
 * const decoder = new ResponseDecoderV3({ authenticated: true });
 * const frames = decoder.push(new Uint8Array([3, 0xeb, 0, 7, 0, 0, 0, ...new Uint8Array(32)]));
 * assert.deepEqual(frames, [
 *   { kind: "answer", response: { status: 235, tag: 7 } },
 *   { kind: "end-of-snapshots", tag: 7 },
 * ]);
 * decoder.end();
 * ```
 */
export class ResponseDecoderV3 {
  #phase: "handshake" | "tagged" | "snapshots";
  #listTag = 0;
  #previous: { storedMs: number; id: Uint8Array } | undefined;
  readonly #frames = new FrameAssembler<ResponseFrameV3>(
    MAX_RESPONSE_HEAD_SIZE_V3,
    (bytes) => this.#nextHead(bytes),
    () => this.#phase === "snapshots" ? "the list of snapshots did not end" : undefined,
  );

  /**
   * A decoder at the start of a connection's answers.
   * @param options `authenticated`: the handshake is over, start with tagged answers
   */
  constructor(options: { authenticated?: boolean } = {}) {
    this.#phase = options.authenticated ? "tagged" : "handshake";
  }

  /**
   * Takes the next piece of the stream; returns the frames it completed, in order.
   *
   * @throws {ProtocolError} for a frame that breaks the protocol; the decoder then refuses more.
   */
  push(chunk: Uint8Array): ResponseFrameV3[] {
    return this.#frames.push(chunk);
  }

  /**
   * Says the stream ended.
   *
   * @throws {TruncatedStreamError} if it ended inside a frame or inside a list of snapshots.
   */
  end(): void {
    this.#frames.end();
  }

  #nextHead(bytes: Uint8Array): Head<ResponseFrameV3> | undefined {
    if (this.#phase === "handshake") {
      const parsed = parseHandshakeResponseV3(bytes);
      if (!parsed) return undefined;
      const { byteLength, ...response } = parsed;
      if (response.status === StatusV3.Authenticated) this.#phase = "tagged";
      return { byteLength, bodyLength: 0, finish: () => ({ kind: "handshake", response }) };
    }
    if (this.#phase === "snapshots") return this.#nextEntry(bytes);
    const head = parseResponseHeadV3(bytes);
    if (!head) return undefined;
    const { byteLength, ...fields } = head;
    if (head.status === StatusV3.Snapshots) {
      this.#phase = "snapshots";
      this.#listTag = head.tag;
      this.#previous = undefined;
    }
    return {
      byteLength,
      bodyLength: head.bodyLength,
      finish: (body) => ({ kind: "answer", response: decodeResponseBodyV3(fields, body) }),
    };
  }

  #nextEntry(bytes: Uint8Array): Head<ResponseFrameV3> | undefined {
    const parsed = parseSnapshotEntryHead(bytes);
    if (!parsed) return undefined;
    const tag = this.#listTag;
    const { entry, byteLength } = parsed;
    if (!entry) {
      this.#phase = "tagged";
      return { byteLength, bodyLength: 0, finish: () => ({ kind: "end-of-snapshots", tag }) };
    }
    const previous = this.#previous;
    if (
      previous &&
      (entry.storedMs < previous.storedMs ||
        (entry.storedMs === previous.storedMs && compareBytes(entry.id, previous.id) <= 0))
    ) {
      throw new ProtocolError("snapshots listed out of order (or twice)");
    }
    this.#previous = { storedMs: entry.storedMs, id: entry.id };
    const { id, storedMs } = entry;
    return {
      byteLength,
      bodyLength: entry.bodyLength,
      finish: (record) => ({ kind: "snapshot", tag, entry: { id, storedMs, record } }),
    };
  }
}
