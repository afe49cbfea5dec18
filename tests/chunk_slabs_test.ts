/**
 * Chunks read into reused slabs (client/snapshot/chunk_slabs.ts, file_chunks.ts) and released by
 * the blob pipeline (blob_pipeline.ts): a chunk's bytes stay as cut until it is released, a slab
 * is reused only once every chunk of it is, and the pipeline releases a blob only once the sink
 * is done with it (never after a failure).
 */
import assert from "node:assert/strict";
import { SlabPool } from "../client/snapshot/chunk_slabs.ts";
import { blobIdOf, FileChunker, streamReader } from "../client/snapshot/file_chunks.ts";
import { BlobPipeline } from "../client/snapshot/blob_pipeline.ts";
import type { OutgoingBlob } from "../client/snapshot/blobs.ts";
import { chunkBoundaries } from "../chunking/fastcdc.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const MiB = 1024 * 1024;

/** Deterministic bytes (xorshift32). */
function pseudoRandom(length: number, seed: number): Uint8Array {
  const words = new Uint32Array(Math.ceil(length / 4));
  let x = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    words[i] = x;
  }
  return new Uint8Array(words.buffer, 0, length);
}

/** A stream of `bytes` in pieces of `piece` bytes. */
function streamOf(bytes: Uint8Array, piece: number): ReadableStream<Uint8Array> {
  const pieces: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += piece) pieces.push(bytes.slice(at, at + piece));
  return ReadableStream.from(pieces);
}

Deno.test("chunks held unreleased keep their bytes while later files are read through the same slabs", async () => {
  const pool = new SlabPool(2 * MiB, 4);
  const chunker = new FileChunker(256 * 1024, pool);
  const held: { bytes: Uint8Array; expected: Uint8Array }[] = [];
  for (const seed of [1, 2, 3]) {
    const source = pseudoRandom(5 * MiB + 12345, seed);
    const ends = chunkBoundaries(source);
    let start = 0;
    let index = 0;
    const { content, size } = await chunker.chunk(
      streamReader(streamOf(source, 300_000)),
      (id, bytes) => {
        const expected = source.subarray(start, start = ends[index++]);
        assert.equal(id, blobIdOf(expected));
        held.push({ bytes, expected });
        return Promise.resolve();
      },
    );
    assert.equal(size, source.length);
    assert.equal(content.length, ends.length);
  }
  for (const { bytes, expected } of held) assert.deepEqual(bytes, expected);
  assert.equal(pool.free, 0, "no slab comes back while a chunk of it is held");
});

Deno.test("released chunks give their slabs back, and the next reads reuse them", async () => {
  const pool = new SlabPool(2 * MiB, 4);
  const chunker = new FileChunker(256 * 1024, pool);
  const buffers = new Set<ArrayBufferLike>();
  for (const seed of [4, 5, 6, 7]) {
    const source = pseudoRandom(4 * MiB, seed);
    const expected = chunkBoundaries(source);
    let start = 0;
    let index = 0;
    await chunker.chunk(streamReader(streamOf(source, 1 << 20)), (id, bytes, release) => {
      assert.equal(id, blobIdOf(source.subarray(start, start = expected[index++])));
      buffers.add(bytes.buffer);
      release();
      release(); // a second call is harmless
      return Promise.resolve();
    });
  }
  // 16 MiB read through slabs of 2 MiB: without reuse, at least 8 distinct buffers.
  assert.ok(buffers.size <= 3, `${buffers.size} distinct slabs for 16 MiB`);
});

Deno.test("the pipeline releases a blob once the sink stored it, at once for a duplicate, never after a failure", async () => {
  const events: string[] = [];
  const puts: { blob: OutgoingBlob; settle: (ok: boolean) => void }[] = [];
  const sink = {
    missing: (ids: string[]) => Promise.resolve(ids.map(() => true)),
    put: (blob: OutgoingBlob) =>
      new Promise<void>((resolve, reject) => {
        puts.push({
          blob,
          settle: (ok) => ok ? resolve() : reject(new Error("connection lost")),
        });
      }),
  };
  const pipeline = new BlobPipeline(sink);
  const blob = (text: string): OutgoingBlob => {
    const raw = new TextEncoder().encode(text);
    return { id: blobIdOf(raw), kind: "data", raw };
  };
  await pipeline.add(blob("a"), () => events.push("a released"));
  await pipeline.add(blob("a"), () => events.push("a again released"));
  assert.deepEqual(events, ["a again released"], "a duplicate is let go at once");
  await pipeline.add(blob("b"), () => events.push("b released"));
  // The puts start after the Missing answers' turns: wait for them, a bounded number of turns.
  for (let turn = 0; puts.length < 2 && turn < 1000; turn++) {
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  assert.equal(puts.length, 2);
  assert.deepEqual(events, ["a again released"], "nothing released while its put is out");
  puts[0].settle(true);
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.deepEqual(events, ["a again released", "a released"]);
  puts[1].settle(false);
  await assert.rejects(pipeline.drain(), /connection lost/);
  assert.deepEqual(events, ["a again released", "a released"], "b's bytes may still be written");
});
