/**
 * The session checks inside a transfer, without a server: an upload whose session is revoked
 * while its digest is awaited never commits, and a list's writes stop at the first one after.
 */
import assert from "node:assert/strict";
import { receiveUpload, type TransferIo } from "../server/transfers.ts";
import { listWriter } from "../server/list_response.ts";
import { SessionRevokedError } from "../server/access.ts";
import { BufferedReader } from "../io/buffered_reader.ts";
import { BufferPool } from "../io/buffer_pool.ts";
import { bytesSource } from "../io/byte_stream.ts";
import type { FileMetadata, Upload } from "../storage/storage.ts";

/** A session that is revoked once `revoke` was called. */
function revocable() {
  let revoked = false;
  return {
    revoke: () => void (revoked = true),
    checkSession: () => {
      if (revoked) throw new SessionRevokedError("the key was removed");
    },
  };
}

Deno.test("an upload whose session is revoked while its digest is read is dropped, not committed", async () => {
  const session = revocable();
  const payload = new Uint8Array(300_000).fill(7);
  const io = transferIo(new BufferedReader(bytesSource(payload), 16 * 1024), session.checkSession);
  const calls: string[] = [];
  let received = 0;
  const upload: Upload = {
    write: (bytes) => (received += bytes.length, Promise.resolve()),
    commit: () => (calls.push("commit"), Promise.resolve({} as FileMetadata)),
    abort: () => (calls.push("abort"), Promise.resolve()),
  };
  await assert.rejects(
    receiveUpload(io, {
      size: payload.length,
      begin: () => Promise.resolve(upload),
      afterPayload: () => {
        session.revoke(); // the operator reloads while the client's digest is on its way
        return Promise.resolve({ sha256: new Uint8Array(32) });
      },
    }, { bytes: 0 }),
    SessionRevokedError,
  );
  assert.equal(received, payload.length, "the payload came before the reload");
  assert.ok(!calls.includes("commit"), "the revoked session's upload is not committed");
  assert.ok(calls.includes("abort"));
});

Deno.test("an upload stops reading at the first chunk after its session is revoked", async () => {
  const session = revocable();
  const payload = new Uint8Array(1_000_000).fill(3);
  let reads = 0;
  const source = bytesSource(payload);
  const io = transferIo(
    new BufferedReader({
      read: (buffer) => {
        if (++reads === 3) session.revoke(); // revoked while the third chunk is on its way
        return source.read(buffer.subarray(0, 10_000));
      },
    }, 16 * 1024),
    session.checkSession,
  );
  let stored = 0;
  const upload: Upload = {
    write: (bytes) => (stored += bytes.length, Promise.resolve()),
    commit: () => Promise.resolve({} as FileMetadata),
    abort: () => Promise.resolve(),
  };
  await assert.rejects(
    receiveUpload(io, { size: payload.length, begin: () => Promise.resolve(upload) }, {
      bytes: 0,
    }),
    SessionRevokedError,
  );
  assert.equal(reads, 3, "nothing is read after the chunk that found the session revoked");
  assert.equal(stored, 20_000, "the chunk read after the revocation never reaches storage");
});

Deno.test("a list's writes check the session first: after a revocation nothing more goes out", async () => {
  const session = revocable();
  const written: number[] = [];
  const write = listWriter({
    write: (bytes) => (written.push(bytes.length), Promise.resolve()),
    armTransfer: () => {},
    checkSession: session.checkSession,
  });
  await write(new Uint8Array(100));
  session.revoke();
  await assert.rejects(write(new Uint8Array(100)), SessionRevokedError);
  assert.deepEqual(written, [100], "the page after the revocation is not sent");
});

/** The server's side of a transfer, as a connection gives it, over `reader`. */
function transferIo(reader: BufferedReader, checkSession: () => void): TransferIo {
  return {
    reader,
    buffers: new BufferPool({
      largeSize: 64 * 1024,
      maxLarge: 2,
      smallSize: 4096,
      maxFreeSmall: 2,
    }),
    write: () => Promise.resolve(),
    defer: () => {},
    armTransfer: () => {},
    checkSession,
    closed: new AbortController().signal,
  };
}
