/** Fixtures for protocol version 3: a raw socket speaking the codec, blobs and their ids. */
import assert from "node:assert/strict";
import { createHash, KeyObject, sign } from "node:crypto";
import type { ClientKey } from "../client/keys.ts";
import {
  authMessageV3,
  BlobEncoding,
  BlobKind,
  decodeRequestBodyV3,
  decodeResponseBodyV3,
  encodeHandshakeRequestV3,
  encodeRequestV3,
  encodeResponseV3,
  OpV3,
  parseRequestHeadV3,
  parseResponseHeadV3,
  type PutBlobRequest,
  RequestDecoderV3,
  type RequestV3,
  ResponseDecoderV3,
  type ResponseFrameV3,
  type ResponseV3,
  StatusV3,
} from "../protocol/v3/mod.ts";
import { toHex } from "../common/hex.ts";
import { writeAll } from "../io/byte_stream.ts";
import { CA } from "./_v2.ts";

/** SHA-256 of `bytes`. */
export function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(bytes).digest());
}

/** A data blob's PutBlob (raw) for `userId` and `tag`. */
export function putData(userId: number, tag: number, raw: Uint8Array): PutBlobRequest {
  return {
    op: OpV3.PutBlob,
    userId,
    tag,
    id: sha256(raw),
    kind: BlobKind.Data,
    encoding: BlobEncoding.Raw,
    rawLength: raw.length,
    refs: [],
    bytes: raw,
  };
}

/** A tree blob's PutBlob naming `refs`: its bytes are the refs' hex (as a tree writes ids). */
export function putTree(userId: number, tag: number, refs: Uint8Array[]): PutBlobRequest {
  const raw = new TextEncoder().encode(refs.map((ref) => toHexId(ref)).join(","));
  return {
    op: OpV3.PutBlob,
    userId,
    tag,
    id: sha256(raw),
    kind: BlobKind.Tree,
    encoding: BlobEncoding.Raw,
    rawLength: raw.length,
    refs,
    bytes: raw,
  };
}

function toHexId(id: Uint8Array): string {
  return Array.from(id, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/**
 * A version 3 connection driven frame by frame: requests encoded by the codec, answers decoded by
 * `ResponseDecoderV3` (which checks them as a client would).
 */
export class RawV3 implements Disposable {
  readonly #decoder = new ResponseDecoderV3();
  readonly #frames: ResponseFrameV3[] = [];
  #ended = false;

  private constructor(readonly conn: Deno.Conn) {}

  /** Connects to 127.0.0.1:`port`, over TLS (trusting the test certificate) if `tls`. */
  static async connect(port: number, tls = false): Promise<RawV3> {
    if (!tls) return new RawV3(await Deno.connect({ hostname: "127.0.0.1", port }));
    const conn = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [CA] });
    await conn.handshake();
    return new RawV3(conn);
  }

  /** Sends bytes as they are. */
  async send(bytes: Uint8Array): Promise<void> {
    await writeAll(this.conn, bytes);
  }

  /** Sends requests in one write. */
  async request(...requests: RequestV3[]): Promise<void> {
    const frames = requests.map((request) => encodeRequestV3(request));
    const all = new Uint8Array(frames.reduce((sum, frame) => sum + frame.length, 0));
    let at = 0;
    for (const frame of frames) all.set(frame, (at += frame.length) - frame.length);
    await this.send(all);
  }

  /** The next decoded frame; `null` once the server closed (cleanly or by a reset). */
  async next(): Promise<ResponseFrameV3 | null> {
    const buffer = new Uint8Array(64 * 1024);
    while (this.#frames.length === 0) {
      if (this.#ended) return null;
      let count: number | null;
      try {
        count = await this.conn.read(buffer);
      } catch {
        count = null;
      }
      if (count === null) {
        this.#ended = true;
        this.#decoder.end();
        return null;
      }
      this.#frames.push(...this.#decoder.push(buffer.subarray(0, count)));
    }
    return this.#frames.shift()!;
  }

  /** The next frame, which must be a tagged answer; throws otherwise. */
  async answer() {
    const frame = await this.next();
    if (frame?.kind !== "answer") {
      throw new Error(`expected an answer, got ${JSON.stringify(frame)}`);
    }
    return frame.response;
  }

  /** Hello, then Auth signed with `key`: resolves the 221 (or the refusal) as decoded. */
  async signIn(userId: number, key: ClientKey) {
    await this.send(encodeHandshakeRequestV3({ op: OpV3.Hello, userId }));
    const challenge = await this.next();
    if (challenge?.kind !== "handshake" || challenge.response.status !== StatusV3.Challenge) {
      return challenge;
    }
    const message = authMessageV3(challenge.response.nonce, userId, key.publicKey);
    const signature = new Uint8Array(sign(null, message, KeyObject.from(key.privateKey)));
    await this.send(
      encodeHandshakeRequestV3({ op: OpV3.Auth, userId, publicKey: key.publicKey, signature }),
    );
    return await this.next();
  }

  [Symbol.dispose](): void {
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }
}

/**
 * Feeds `bytes` to a stream decoder made by `make` whole, then to another one a byte at a time:
 * both must give `expected` (a decoder may not depend on how the stream is cut).
 */
export function feedBothWays<T>(
  make: () => { push(b: Uint8Array): T[]; end(): void },
  bytes: Uint8Array,
  expected: T[],
): void {
  const whole = make();
  assert.deepEqual(whole.push(bytes), expected);
  whole.end();
  const bytewise = make();
  const frames: T[] = [];
  for (let i = 0; i < bytes.length; i++) frames.push(...bytewise.push(bytes.subarray(i, i + 1)));
  assert.deepEqual(frames, expected);
  bytewise.end();
}

/**
 * A request vector: encoded byte for byte, its head incomplete at every cut inside it, decoded
 * back, and the same from a stream decoder fed whole or a byte at a time.
 */
export function assertRequestVector(bytes: Uint8Array, request: RequestV3): void {
  assert.equal(toHex(encodeRequestV3(request)), toHex(bytes), `op ${request.op}`);
  const head = parseRequestHeadV3(bytes)!;
  for (let cut = 0; cut < head.byteLength; cut++) {
    const what = `op ${request.op} cut ${cut}`;
    assert.equal(parseRequestHeadV3(bytes.subarray(0, cut)), undefined, what);
  }
  assert.equal(head.byteLength + head.bodyLength, bytes.length);
  assert.deepEqual(decodeRequestBodyV3(head, bytes.subarray(head.byteLength)), request);
  const decoder = () => new RequestDecoderV3({ authenticated: true });
  feedBothWays(decoder, bytes, [{ kind: "request", request }]);
}

/**
 * A response vector, as `assertRequestVector`; `stream` false for one whose frame is not whole
 * alone (a 235, which its entries follow).
 */
export function assertResponseVector(
  bytes: Uint8Array,
  response: ResponseV3,
  stream = true,
): void {
  assert.equal(toHex(encodeResponseV3(response)), toHex(bytes), `status ${response.status}`);
  const head = parseResponseHeadV3(bytes)!;
  for (let cut = 0; cut < head.byteLength; cut++) {
    assert.equal(parseResponseHeadV3(bytes.subarray(0, cut)), undefined);
  }
  assert.deepEqual(decodeResponseBodyV3(head, bytes.subarray(head.byteLength)), response);
  if (!stream) return;
  const decoder = () => new ResponseDecoderV3({ authenticated: true });
  feedBothWays(decoder, bytes, [{ kind: "answer", response }]);
}
