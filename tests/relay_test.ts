import assert from "node:assert/strict";
import { headerThenPayload, relay } from "../io/relay.ts";
import { bytesSource } from "../io/byte_stream.ts";

/** Runs `relay` over `chunks` chunks with slow writes; returns the order things happened in. */
async function trace(buffers: [Uint8Array] | [Uint8Array, Uint8Array], chunks: number) {
  const events: string[] = [];
  let produced = 0;
  await relay(
    buffers,
    (buffer) => {
      if (produced === chunks) return Promise.resolve(null);
      const n = produced++;
      events.push(`fill ${n} into ${buffers.indexOf(buffer)}`);
      buffer[0] = n;
      return Promise.resolve(buffer.subarray(0, 1));
    },
    async (chunk) => {
      events.push(`write ${chunk[0]} start`);
      await new Promise((done) => setTimeout(done, 5));
      events.push(`write ${chunk[0]} end`);
    },
  );
  return events;
}

Deno.test("relay with two buffers fills one while the other is written", async () => {
  const events = await trace([new Uint8Array(4), new Uint8Array(4)], 3);
  assert.deepEqual(events, [
    "fill 0 into 0",
    "write 0 start",
    "fill 1 into 1", // while chunk 0 is being written
    "write 0 end",
    "write 1 start",
    "fill 2 into 0",
    "write 1 end",
    "write 2 start",
    "write 2 end",
  ]);
});

Deno.test("relay with one buffer fills it again only after its write has finished", async () => {
  const events = await trace([new Uint8Array(4)], 3);
  assert.deepEqual(events, [
    "fill 0 into 0",
    "write 0 start",
    "write 0 end",
    "fill 1 into 0",
    "write 1 start",
    "write 1 end",
    "fill 2 into 0",
    "write 2 start",
    "write 2 end",
  ]);
});

Deno.test("headerThenPayload: the header and the first payload bytes in one chunk, then full buffers", async () => {
  const buffers = [new Uint8Array(4), new Uint8Array(4)] as const;
  buffers[0].set([0xaa, 0xbb]); // a 2-byte header already in place
  const source = bytesSource(Uint8Array.from([1, 2, 3, 4, 5, 6, 7]));
  const chunks: number[][] = [];
  await relay(
    buffers,
    headerThenPayload(source, 7, 2, (missing) => new Error(`${missing} missing`)),
    (chunk) => Promise.resolve(void chunks.push([...chunk])),
  );
  assert.deepEqual(chunks, [[0xaa, 0xbb, 1, 2], [3, 4, 5, 6], [7]]);
});

Deno.test("headerThenPayload: a source shorter than its size fails with the caller's error", async () => {
  const next = headerThenPayload(
    bytesSource(Uint8Array.from([1, 2, 3])),
    6,
    1,
    (missing) => new Error(`${missing} missing`),
  );
  await assert.rejects(
    relay([new Uint8Array(4), new Uint8Array(4)], next, () => Promise.resolve()),
    /^Error: 3 missing$/,
  );
});
