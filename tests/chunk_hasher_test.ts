/**
 * `ChunkHasher` (issue 21): a chunk whose buffer cannot move to a worker (`postMessage`
 * throws: a WebAssembly memory here; in the server, a buffer that `node:buffer` or `node:zlib`
 * keeps) must be hashed inline, not leave a promise in the hasher's table that nobody awaits:
 * `close` (or a failing worker) rejects it, and an unhandled rejection ends a Deno process.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { ChunkHasher } from "../repository/chunk_hasher.ts";

Deno.test.sanitizer({ ops: true, resources: true });

Deno.test("a chunk the worker cannot take is hashed inline, and closing leaves no rejection unhandled", async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (event: PromiseRejectionEvent) => {
    unhandled.push(event.reason);
    event.preventDefault();
  };
  globalThis.addEventListener("unhandledrejection", onUnhandled);
  const hasher = new ChunkHasher(1);
  let threw: string | undefined;
  try {
    // Warm up: the worker is made and answers.
    const warm = new Uint8Array(1024).fill(1);
    const expectedWarm = createHash("sha256").update(warm).digest();
    assert.deepEqual((await hasher.hash(warm)).id, new Uint8Array(expectedWarm));

    // A buffer that cannot be transferred (WebAssembly memory is never detached).
    const memory = new WebAssembly.Memory({ initial: 1 });
    const chunk = new Uint8Array(memory.buffer);
    chunk.fill(9);
    const expected = new Uint8Array(createHash("sha256").update(chunk).digest());
    let result;
    let failure: unknown;
    try {
      result = await hasher.hash(chunk);
    } catch (error) {
      failure = error;
    }
    if (failure === undefined) assert.deepEqual(result?.id, expected);
    threw = failure === undefined ? undefined : String(failure);
  } finally {
    hasher.close();
    // An unhandled rejection is reported after the microtasks of this turn: let a timer turn pass.
    await new Promise((resolve) => setTimeout(resolve, 0));
    await new Promise((resolve) => setTimeout(resolve, 0));
    globalThis.removeEventListener("unhandledrejection", onUnhandled);
  }
  assert.deepEqual(
    { threw, unhandled: unhandled.map(String) },
    { threw: undefined, unhandled: [] },
    "hashed inline, and close left no rejection unhandled",
  );
});
