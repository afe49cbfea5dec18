/**
 * A small version 3 server over plain TCP for the client's tests: it signs in any key (or answers
 * the Hello as a test says), then hands each tagged request to a script that answers as it likes:
 * late, out of order, wrongly, or never. A hostile server, for what a real one never sends.
 */
import { NONCE_SIZE } from "../protocol/v2/constants.ts";
import { StatusV3 } from "../protocol/v3/constants.ts";
import { RequestDecoderV3 } from "../protocol/v3/frames.ts";
import { encodeHandshakeResponseV3 } from "../protocol/v3/handshake.ts";
import type { RequestV3 } from "../protocol/v3/requests.ts";
import { writeAll } from "../io/byte_stream.ts";
import { serveEach } from "./_fake_server.ts";

/** One connection as a script sees it. */
export interface FakeConnV3 {
  /** The next tagged request, or `null` once the client closed. */
  next(): Promise<RequestV3 | null>;
  /** Writes bytes to the client. */
  send(...frames: Uint8Array[]): Promise<void>;
  /** Requests already received and decoded that `next` has not returned yet. */
  received(): number;
}

/** What the fake does with a connection. */
export interface FakeServerV3Options {
  /** Answers the Hello with these bytes instead of a nonce, then closes. */
  helloAnswer?: Uint8Array;
  /** Answers the Auth with these bytes instead of a welcome, then closes. */
  authAnswer?: Uint8Array;
}

/** A fake server on 127.0.0.1. */
export interface FakeServerV3 extends AsyncDisposable {
  port: number;
}

/**
 * Starts the fake: each connection is signed in, then run by `script` until it returns (then
 * closed) or the client goes away.
 */
export function startFakeServerV3(
  script: (conn: FakeConnV3) => Promise<void>,
  options: FakeServerV3Options = {},
): FakeServerV3 {
  return serveEach(async (conn: Deno.Conn) => {
    const decoder = new RequestDecoderV3();
    const ready: RequestV3[] = [];
    const buffer = new Uint8Array(64 * 1024);
    const send = async (...frames: Uint8Array[]) => {
      for (const frame of frames) await writeAll(conn, frame);
    };
    const next = async (): Promise<RequestV3 | null> => {
      while (ready.length === 0) {
        const count = await conn.read(buffer);
        if (count === null) return null;
        for (const frame of decoder.push(buffer.subarray(0, count))) {
          if (frame.kind === "request") {
            // Views into a body the decoder will not reuse, but copied anyway: scripts keep them.
            ready.push(structuredClone(frame.request));
            continue;
          }
          if (frame.request.op === 1) {
            await send(
              options.helloAnswer ?? encodeHandshakeResponseV3({
                status: StatusV3.Challenge,
                nonce: crypto.getRandomValues(new Uint8Array(NONCE_SIZE)),
              }),
            );
            if (options.helloAnswer) return null;
          } else {
            await send(
              options.authAnswer ??
                encodeHandshakeResponseV3({ status: StatusV3.Authenticated, appendOnly: false }),
            );
            if (options.authAnswer) return null;
          }
        }
      }
      return ready.shift()!;
    };
    try {
      await script({ next, send, received: () => ready.length });
    } catch {
      // the client went away
    }
  });
}

/** Reads requests until the client closes (a server that never answers). */
export async function drain(conn: FakeConnV3, seen: RequestV3[] = []): Promise<void> {
  for (let request = await conn.next(); request; request = await conn.next()) seen.push(request);
}
