/** A small version 1 server that answers as a test scripts it: a broken or hostile server. */
import { Op, Status } from "../protocol/constants.ts";
import { parseRequestHeader, type RequestHeader } from "../protocol/request.ts";
import { encodeResponseHeader } from "../protocol/response.ts";
import { BufferedReader } from "../io/buffered_reader.ts";
import { writeAll } from "../io/byte_stream.ts";
import { concat, utf8 } from "./_helpers.ts";

/** What the fake answers to one request: bytes to send, or `"hang"` to send nothing more. */
export type FakeAnswer = Uint8Array | "hang";

/** A fake server on 127.0.0.1 answering each request with `answer(header)`. */
export interface FakeServer extends AsyncDisposable {
  port: number;
}

/** Starts the fake; every connection is served until the client closes or the answer hangs. */
export function startFakeServer(answer: (header: RequestHeader) => FakeAnswer): FakeServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const serving = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      (async () => {
        const reader = new BufferedReader(conn, 64 * 1024);
        try {
          for (;;) {
            const parsed = await reader.readFrame(parseRequestHeader, "request");
            if (!parsed) return;
            const scratch = new Uint8Array(64 * 1024);
            for (let left = parsed.header.payloadSize; left > 0;) {
              left -= (await reader.readSome(left, scratch, "payload")).length;
            }
            const bytes = answer(parsed.header);
            if (bytes === "hang") return;
            await writeAll(conn, bytes);
          }
        } catch {
          // the client went away
        }
      })();
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    async [Symbol.asyncDispose]() {
      stopFake(listener, conns);
      await serving;
    },
  };
}

/** Closes `conn` if it is still open. */
export function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}

/**
 * Accepts connections on 127.0.0.1 and runs `serve` on each until it returns (the connection is
 * then closed); disposing stops taking connections, closes those open and waits for every `serve`.
 */
export function serveEach(serve: (conn: Deno.Conn) => Promise<void>): FakeServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const served: Promise<void>[] = [];
  const serving = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      served.push(
        serve(conn).catch(() => {}).finally(() => {
          conns.delete(conn);
          closeQuietly(conn);
        }),
      );
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    async [Symbol.asyncDispose]() {
      stopFake(listener, conns);
      await serving;
      await Promise.all(served);
    },
  };
}

/** Stops a fake server: it takes no more connections, and those still open are closed. */
export function stopFake(listener: Deno.Listener, conns: Iterable<Deno.Conn>): void {
  listener.close();
  for (const conn of conns) closeQuietly(conn);
}

/** A 211 listing exactly these names (raw, unchecked: the fake lies as it is told). */
export function listAnswer(names: string[]): Uint8Array {
  const payload = utf8(names.map((name) => `${name}\n`).join(""));
  return concat(
    encodeResponseHeader({
      status: Status.ListSent,
      name: "x".repeat(32),
      payloadSize: payload.length,
    }),
    payload,
  );
}

/** A 210 for `name` carrying `content`. */
export function fileAnswer(name: string, content: Uint8Array): Uint8Array {
  return concat(
    encodeResponseHeader({ status: Status.FileRestored, name, payloadSize: content.length }),
    content,
  );
}

export { Op };
