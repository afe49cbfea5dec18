/**
 * Issue #21: the server's peak RSS during a 1 GiB upload under 100 MiB. A hashing worker's isolate
 * costs a share of it (docs/performance.md, "Memory with 1,000,000 chunks indexed"), so the
 * engines' hasher (`hashWorkers` unset) hashes on the event loop; workers stay an option
 * (`--hash-workers`), for speed where a core is free.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { ChunkHasher } from "../repository/chunk_hasher.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const MiB = 1024 * 1024;

Deno.test("by default chunks are hashed on the event loop: a chunk handed over stays the caller's, no worker takes it", async () => {
  const hasher = new ChunkHasher();
  try {
    const whole = new Uint8Array(MiB);
    crypto.getRandomValues(whole.subarray(0, 65_536));
    const { id, bytes } = await hasher.hash(whole);
    assert.equal(whole.byteLength, MiB, "not moved to a worker (a transfer detaches it)");
    assert.equal(bytes, whole);
    assert.deepEqual(id, new Uint8Array(createHash("sha256").update(whole).digest()));
    const pieces = await hasher.hashPieces(whole.buffer, [[0, 65_536], [65_536, MiB - 65_536]]);
    assert.equal(whole.byteLength, MiB);
    assert.equal(pieces.buffer, whole.buffer);
  } finally {
    hasher.close();
  }
});

Deno.test("with workers asked for, a chunk moves to a worker and back", async () => {
  const hasher = new ChunkHasher(1);
  try {
    const whole = crypto.getRandomValues(new Uint8Array(65_536));
    const expected = new Uint8Array(createHash("sha256").update(whole).digest());
    const { id, bytes } = await hasher.hash(whole);
    assert.equal(whole.byteLength, 0, "transferred to the worker");
    assert.deepEqual(id, expected);
    assert.equal(bytes.byteLength, 65_536);
  } finally {
    hasher.close();
  }
});
