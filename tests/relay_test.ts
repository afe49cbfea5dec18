import assert from "node:assert/strict";
import { relay } from "../io/relay.ts";

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
