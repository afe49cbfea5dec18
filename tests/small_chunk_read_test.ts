/**
 * Worker-checked reads (issue 21): a chunk decoded from a small zstd blob is a view into
 * `node:buffer`'s shared 8 KiB pool (zlib's output is `Buffer.allocUnsafe`), at offset 0 whenever
 * it opens a new pool. Handing such a view to the hasher moves its whole buffer to the worker:
 * Deno refuses (the pool carries a detach key), `postMessage` throws, and the restore of the file
 * fails ("Provided key doesn't match [[ArrayBufferDetachKey]]"); were it allowed, every other
 * pooled `Buffer` of the process would lose its bytes. Reading must move only buffers that the
 * chunk alone owns.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { FolderStore } from "../objects/folder_store.ts";
import { encodeBlob } from "../repository/blob_codec.ts";
import { ChunkHasher } from "../repository/chunk_hasher.ts";
import { chunkedSource, type Placement } from "../repository/chunked_source.ts";
import { PackWriter } from "../repository/pack_writer.ts";
import { createHash } from "node:crypto";

Deno.test.sanitizer({ ops: true, resources: true });

Deno.test("reading small zstd chunks through the hasher's worker reads them back (their bytes are views into node's Buffer pool)", async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (event: PromiseRejectionEvent) => {
    unhandled.push(event.reason);
    event.preventDefault();
  };
  globalThis.addEventListener("unhandledrejection", onUnhandled);
  const root = await Deno.makeTempDir({ prefix: "backup-review-pool-" });
  const hasher = new ChunkHasher(1);
  try {
    const store = await FolderStore.open({ root });
    const packs = new PackWriter(store, { targetBytes: 1 << 20 });
    // Small, compressible chunks: each decodes into a pooled Buffer (under 4 KiB), a few per pool
    // of 8 KiB, so that reading them starts new pools, each first view at offset 0.
    const chunks: Uint8Array[] = [];
    for (let n = 0; n < 120; n++) {
      chunks.push(new TextEncoder().encode(`line ${n} of a log `.repeat(20 + (n % 7) * 15)));
    }
    const ids = chunks.map((chunk) => new Uint8Array(createHash("sha256").update(chunk).digest()));
    for (const [n, chunk] of chunks.entries()) {
      const encoded = encodeBlob(chunk);
      assert.equal(encoded.compression, "zstd", "the test needs compressed blobs");
      await packs.add(ids[n], encoded, chunk.length);
    }
    const [pack, ...more] = await packs.finish();
    assert.equal(more.length, 0);
    const placements: Placement[] = pack.blobs.map((blob, seq) => ({
      ...blob,
      seq,
      pack: pack.name,
    }));

    // A pooled Buffer some other part of the server holds meanwhile (a header, a digest...).
    const bystander = Buffer.allocUnsafe(64).fill(7);
    const source = chunkedSource(
      store,
      placements.length,
      (from, limit) => placements.slice(from, from + limit),
      hasher,
    );
    const read: number[] = [];
    const buffer = new Uint8Array(4096);
    let failure: unknown;
    try {
      for (;;) {
        const count = await source.read(buffer);
        if (count === null) break;
        read.push(...buffer.subarray(0, count));
      }
    } catch (error) {
      failure = error;
    }
    const expected = chunks.flatMap((chunk) => [...chunk]);
    let allocates = true;
    try {
      Buffer.allocUnsafe(16).fill(1);
    } catch {
      allocates = false;
    }
    assert.equal(failure, undefined, `the read failed: ${failure}`);
    assert.equal(read.length, expected.length, "every byte read back");
    assert.ok(
      read.every((byte, at) => byte === expected[at]),
      "the bytes read are the bytes stored",
    );
    assert.equal(bystander.length, 64, "a Buffer held elsewhere keeps its bytes");
    assert.ok(bystander.every((byte) => byte === 7));
    assert.ok(allocates, "small Buffers can still be allocated");
  } finally {
    hasher.close();
    await Deno.remove(root, { recursive: true });
    // An unhandled rejection is reported after this turn's microtasks: let timer turns pass.
    await new Promise((resolve) => setTimeout(resolve, 0));
    await new Promise((resolve) => setTimeout(resolve, 0));
    globalThis.removeEventListener("unhandledrejection", onUnhandled);
  }
  assert.deepEqual(unhandled.map(String), [], "closing the hasher left no rejection unhandled");
});
