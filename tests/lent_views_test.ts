/**
 * Views lent to the socket (a chunked file's run buffers, shared by every reader of the server):
 * a buffer goes back to the pool only once the socket has taken its bytes, whatever the client
 * does: a client that stops reading while others churn the pool gets its own bytes, over TLS and
 * plain TCP; a client that leaves mid-answer gives every buffer back.
 */
import assert from "node:assert/strict";
import { BackupClient } from "../client/backup_client.ts";
import { bytesSource } from "../io/byte_stream.ts";
import { SHARED_READ_BUFFERS } from "../repository/read_buffers.ts";
import { chunksOf, flipByte, randomBytes } from "./_packs.ts";
import { eventually, startTestServer } from "./_helpers.ts";
import { makeKey, startV2Server } from "./_v2.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const MiB = 1024 * 1024;
const FILE_BYTES = 24 * MiB;
/** Retrieves by the other user while the first does not read. */
const CHURNS = 4;

/** A sink that takes nothing until `open` resolves, then keeps every byte. */
function gatedSink(open: Promise<void>) {
  const parts: Uint8Array[] = [];
  let received = 0;
  return {
    parts,
    get received() {
      return received;
    },
    async write(part: Uint8Array) {
      await open;
      parts.push(part.slice());
      received += part.length;
      return part.length;
    },
  };
}

function joined(parts: Uint8Array[]): Uint8Array {
  const all = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    all.set(part, at);
    at += part.length;
  }
  return all;
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

Deno.test("TLS: a client that stops reading while another user's retrieves reuse the pool gets its own bytes", async () => {
  const [keyA, keyB] = [await makeKey(), await makeKey()];
  await using t = await startV2Server([{ id: 1, keys: [keyA] }, { id: 2, keys: [keyB] }]);
  const a = randomBytes(FILE_BYTES);
  const b = randomBytes(FILE_BYTES);
  {
    using ca = await t.connect(1, keyA);
    await ca.backup("a.bin", bytesSource(a), a.length);
    using cb = await t.connect(2, keyB);
    await cb.backup("b.bin", bytesSource(b), b.length);
  }
  using slow = await t.connect(1, keyA);
  const gate = Promise.withResolvers<void>();
  const sink = gatedSink(gate.promise);
  const slowDone = slow.retrieve("a.bin", sink);
  slowDone.catch(() => {});
  {
    using fast = await t.connect(2, keyB);
    for (let n = 0; n < CHURNS; n++) {
      const got = gatedSink(Promise.resolve());
      await fast.retrieve("b.bin", got);
      assert.equal(firstDifference(joined(got.parts), b), -1, `B's retrieve ${n} is B's bytes`);
    }
  }
  gate.resolve();
  await slowDone; // v2 checks the SHA-256 too
  assert.equal(firstDifference(joined(sink.parts), a), -1, "A's bytes, none of B's");
  await eventually(() => Promise.resolve(SHARED_READ_BUFFERS.allocated === 0), "buffers freed");
});

Deno.test("plain TCP: a client that stops reading while another user's retrieves reuse the pool gets its own bytes", async () => {
  await using t = await startTestServer();
  const a = randomBytes(FILE_BYTES);
  const b = randomBytes(FILE_BYTES);
  const connect = (userId: number) => BackupClient.connect({ userId, port: t.port });
  {
    using ca = await connect(1);
    await ca.backup("a.bin", ReadableStream.from([a]), a.length);
    using cb = await connect(2);
    await cb.backup("b.bin", ReadableStream.from([b]), b.length);
  }
  using slow = await connect(1);
  const gate = Promise.withResolvers<void>();
  const sink = gatedSink(gate.promise);
  const slowDone = slow.retrieve("a.bin", sink);
  slowDone.catch(() => {});
  {
    using fast = await connect(2);
    for (let n = 0; n < CHURNS; n++) {
      const got = gatedSink(Promise.resolve());
      await fast.retrieve("b.bin", got);
      assert.equal(firstDifference(joined(got.parts), b), -1, `B's retrieve ${n} is B's bytes`);
    }
  }
  gate.resolve();
  await slowDone;
  assert.equal(firstDifference(joined(sink.parts), a), -1, "A's bytes, none of B's");
  await eventually(() => Promise.resolve(SHARED_READ_BUFFERS.allocated === 0), "buffers freed");
});

for (const tls of [false, true]) {
  Deno.test(`${tls ? "TLS" : "plain TCP"}: clients that leave mid-answer give every read buffer back`, async () => {
    const key = await makeKey();
    await using t = await startV2Server([{ id: 1, keys: [key] }], tls ? {} : { tls: undefined });
    const a = randomBytes(FILE_BYTES);
    {
      using c = await t.connect(1, key);
      await c.backup("a.bin", bytesSource(a), a.length);
    }
    for (let n = 0; n < 6; n++) {
      const c = await t.connect(1, key);
      const gate = Promise.withResolvers<void>();
      const sink = gatedSink(gate.promise);
      const done = c.retrieve("a.bin", sink);
      done.catch(() => {});
      // Leaves once the server is part-way (the sink holds the first bytes back: the server's
      // writes stall), some at once, some after a few MiB.
      if (n % 2 === 1) {
        gate.resolve();
        await eventually(() => Promise.resolve(sink.received >= n * MiB), "part of the answer");
      }
      c[Symbol.dispose]();
      gate.resolve();
      await done.catch(() => {});
    }
    await eventually(
      () => Promise.resolve(SHARED_READ_BUFFERS.allocated === 0),
      `every read buffer back (allocated: ${SHARED_READ_BUFFERS.allocated})`,
    );
  });
}

Deno.test("TLS: many retrieves at once past the pool's cap, one of a file damaged mid-way: the others' bytes exact, every buffer back", async () => {
  const [key, other] = [await makeKey(), await makeKey()];
  await using t = await startV2Server([{ id: 1, keys: [key] }, { id: 2, keys: [other] }]);
  const good = randomBytes(12 * MiB);
  const bad = randomBytes(24 * MiB);
  {
    using c1 = await t.connect(1, key);
    await c1.backup("good.bin", bytesSource(good), good.length);
    using c2 = await t.connect(2, other);
    await c2.backup("bad.bin", bytesSource(bad), bad.length);
  }
  // A chunk past the first runs (the answer is under way when it is read) is damaged.
  const chunks = chunksOf(t.root, 2, "bad.bin");
  const late = chunks.find((chunk) => chunk.seq > 0 && chunkStart(chunks, chunk.seq) > 16 * MiB)!;
  await flipByte(late.path, late.offset + 3);
  const clients = await Promise.all(
    Array.from({ length: 20 }, (_, n) => n === 7 ? t.connect(2, other) : t.connect(1, key)),
  );
  try {
    const results = await Promise.allSettled(clients.map((client, n) => {
      let received = 0;
      const sink = {
        write(part: Uint8Array) {
          received += part.length;
          return Promise.resolve(part.length);
        },
      };
      return client.retrieve(n === 7 ? "bad.bin" : "good.bin", sink).then(() => received);
    }));
    for (const [n, result] of results.entries()) {
      if (n === 7) assert.equal(result.status, "rejected", "the damaged file is cut off");
      else {
        assert.equal(result.status, "fulfilled", `retrieve ${n}: ${JSON.stringify(result)}`);
        assert.equal(result.value, good.length); // and its SHA-256 checked by the client
      }
    }
  } finally {
    for (const client of clients) client[Symbol.dispose]();
  }
  await eventually(() => Promise.resolve(SHARED_READ_BUFFERS.allocated === 0), "buffers freed");
});

function chunkStart(chunks: { rawLength: number }[], seq: number): number {
  return chunks.slice(0, seq).reduce((sum, chunk) => sum + chunk.rawLength, 0);
}
