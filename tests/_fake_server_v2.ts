/**
 * A small version 2 server over plain TCP that accepts any key and answers each request as a test
 * scripts it: a hostile server, for what a real one never sends.
 */
import { NONCE_SIZE, OpV2, StatusV2 } from "../protocol/v2/constants.ts";
import { parseRequestV2, type RequestV2 } from "../protocol/v2/requests.ts";
import { encodeResponseV2, type VersionInfo } from "../protocol/v2/responses.ts";
import { BufferedReader } from "../io/buffered_reader.ts";
import { writeAll } from "../io/byte_stream.ts";
import { serveEach } from "./_fake_server.ts";

/** What the fake answers to one request: bytes, or chunks written one after another. */
export type FakeAnswerV2 = Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

/** A fake server on 127.0.0.1 answering each request after the handshake with `answer`. */
export interface FakeServerV2 extends AsyncDisposable {
  port: number;
}

/** Starts the fake; every connection is served until the client closes it. */
export function startFakeServerV2(answer: (request: RequestV2) => FakeAnswerV2): FakeServerV2 {
  return serveEach(async (conn: Deno.Conn) => {
    const reader = new BufferedReader(conn, 64 * 1024);
    try {
      for (;;) {
        const request = await reader.readFrame(parseRequestV2, "request");
        if (!request) return;
        if (request.op === OpV2.Backup) {
          // The payload and its digest are read and dropped.
          const scratch = new Uint8Array(64 * 1024);
          for (let left = request.size + 32; left > 0;) {
            left -= (await reader.readSome(left, scratch, "payload")).length;
          }
        }
        const bytes: FakeAnswerV2 = request.op === OpV2.Hello
          ? encodeResponseV2({
            status: StatusV2.Challenge,
            nonce: crypto.getRandomValues(new Uint8Array(NONCE_SIZE)),
          })
          : request.op === OpV2.Auth
          ? encodeResponseV2({ status: StatusV2.Authenticated, appendOnly: false })
          : answer(request);
        if (bytes instanceof Uint8Array) await writeAll(conn, bytes);
        else for await (const chunk of bytes) await writeAll(conn, chunk);
      }
    } catch {
      // the client went away
    }
  });
}

/** Version information with these fields, the others plausible. */
export function infoOf(fields: Partial<VersionInfo> & { size: number }): VersionInfo {
  return {
    versionId: 1,
    mtimeMs: Date.UTC(2026, 0, 1),
    mode: 0o644,
    storedMs: Date.UTC(2026, 0, 1),
    endedMs: null,
    deleted: false,
    sha256: new Uint8Array(32),
    ...fields,
  };
}
