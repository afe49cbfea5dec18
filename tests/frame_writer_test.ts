/**
 * The client's frame writer (client/frame_writer_v3.ts): frames queued at any moment go out, in
 * order, without waiting for a later frame.
 */
import assert from "node:assert/strict";
import { FrameWriter } from "../client/frame_writer_v3.ts";

Deno.test.sanitizer({ ops: true, resources: true });

Deno.test("a frame queued just as a write run ends is written, not left for the next frame", async () => {
  // A restore waits for the answer to its last request before it asks anything more: a frame left
  // in the queue until the next one is queued hung it for the 60 s timeout. The run ends a few
  // microtasks after its last write resolves; a frame is queued at each point of that stretch.
  for (let turns = 0; turns < 12; turns++) {
    const written: number[] = [];
    const sink = {
      write: (bytes: Uint8Array) => (written.push(...bytes), Promise.resolve(bytes.length)),
    };
    const writer = new FrameWriter(sink, { onError: (error) => assert.fail(String(error)) });
    writer.enqueue([new Uint8Array([1])]);
    for (let i = 0; i < turns; i++) await Promise.resolve();
    writer.enqueue([new Uint8Array([2])]);
    await writer.drained();
    // Another turn of the event loop: whatever would still go out by itself has gone.
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.deepEqual(written, [1, 2], `frame queued after ${turns} microtasks`);
  }
});
