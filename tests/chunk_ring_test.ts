/**
 * The upload path without copies per chunk: bytes go once into a ring of shared memory
 * (`SharedRing`), the hasher reads chunks there (`ChunkHasher.hashShared`, the whole file's SHA-256
 * with them), and chunks stored raw are written from there. The ring is reused as the upload goes:
 * a chunk's bytes must never be overwritten before they are hashed and written, however slow the
 * store; the whole file's SHA-256 must be the one of every byte in order; noise is stored raw
 * without zstd.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { chunkBoundaries, type ChunkerOptions } from "../chunking/fastcdc.ts";
import { toHex } from "../common/hex.ts";
import {
  decodeBlob,
  encodeBlob,
  entropyBitsPerByte,
  NOISE_BITS_PER_BYTE,
} from "../repository/blob_codec.ts";
import { ChunkHasher, INLINE_HASHER } from "../repository/chunk_hasher.ts";
import { ChunkedWriter } from "../repository/chunked_writer.ts";
import { PackWriter } from "../repository/pack_writer.ts";
import { SharedRing } from "../repository/shared_ring.ts";
import { FolderStore } from "../objects/folder_store.ts";
import { seededBytes, withCreate } from "./_repository.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const SMALL: ChunkerOptions = { minSize: 2048, averageSize: 8192, maxSize: 32768 };

const sha256 = (bytes: Uint8Array) => toHex(createHash("sha256").update(bytes).digest());

Deno.test("a ring gives one span, or two where bytes wrap around its end, and copies only those", () => {
  const ring = SharedRing.take(16, 32); // not the full size: never kept
  assert.deepEqual(ring.spans(3, 10), [[3, 7]]);
  assert.deepEqual(ring.spans(20, 36), [[4, 12], [0, 4]]);
  ring.bytes.set([1, 2, 3, 4], 0);
  ring.bytes.set([9, 8], 14);
  const view = ring.view(16, 20);
  assert.equal(view.buffer, ring.memory, "a span that does not wrap is a view");
  const wrapped = ring.view(14, 18);
  assert.deepEqual(wrapped, new Uint8Array([9, 8, 1, 2]));
  assert.notEqual(wrapped.buffer, ring.memory, "one that wraps is a copy");
  ring.release();
});

for (const [label, workers] of [["in a worker", 1], ["inline", 0]] as const) {
  Deno.test(`hashShared ${label}: chunk ids of spans, and a stream's SHA-256 of every span in order`, async () => {
    const hasher = new ChunkHasher(workers);
    try {
      const shared = new SharedArrayBuffer(300_000);
      const bytes = new Uint8Array(shared);
      bytes.set(seededBytes(3, bytes.length));
      const stream = hasher.openStream();
      // Three chunks, the last wrapping from the end back to the start.
      const chunks: [number, number][][] = [
        [[0, 100_000]],
        [[100_000, 150_000]],
        [[250_000, 50_000], [0, 70_000]],
      ];
      const ids = await Promise.all(
        chunks.map((spans) => hasher.hashShared(shared, spans, stream)),
      );
      const whole = createHash("sha256");
      chunks.forEach((spans, n) => {
        const chunk = createHash("sha256");
        for (const [at, count] of spans) {
          chunk.update(bytes.subarray(at, at + count));
          whole.update(bytes.subarray(at, at + count));
        }
        assert.equal(toHex(ids[n]), chunk.digest("hex"));
      });
      assert.equal(toHex(await hasher.digestStream(stream)), whole.digest("hex"));
      // A stream dropped unread leaves nothing behind; one without bytes is the empty SHA-256.
      hasher.closeStream(hasher.openStream());
      const empty = hasher.openStream();
      assert.equal(toHex(await hasher.digestStream(empty)), sha256(new Uint8Array(0)));
    } finally {
      hasher.close();
    }
  });
}

Deno.test("a stream whose worker stopped fails at once: nothing waits forever", async () => {
  const hasher = new ChunkHasher(1);
  const shared = new SharedArrayBuffer(1024);
  const stream = hasher.openStream();
  await hasher.hashShared(shared, [[0, 1024]], stream);
  hasher.close();
  await assert.rejects(hasher.hashShared(shared, [[0, 1024]], stream), /stopped/);
  await assert.rejects(hasher.digestStream(stream), /stopped/);
});

Deno.test("a ring of the chunker's maximum, wrapped some hundred times under slow writes: every chunk stored is its own bytes, and the file's SHA-256 is right", async () => {
  const root = await Deno.makeTempDir({ prefix: "backup-chunk-ring-" });
  const hasher = new ChunkHasher(1);
  try {
    const folder = await FolderStore.open({ root });
    // Every write waits a timer turn first: bytes released before their write would be
    // overwritten by later ones while the write still waits.
    const store = withCreate(folder, async (name) => {
      const inner = await folder.create(name);
      return {
        ...inner,
        write: async (bytes) => {
          await new Promise((resolve) => setTimeout(resolve, 1));
          await inner.write(bytes);
        },
      };
    });
    // Half noise (stored raw, from the ring), half text (compressed): both kinds of release.
    const noise = seededBytes(21, 1_500_000);
    const text = new TextEncoder().encode("a line of a log that repeats often\n".repeat(45_000));
    const bytes = new Uint8Array(noise.length + text.length);
    bytes.set(noise);
    bytes.set(text, noise.length);
    const writer = new ChunkedWriter({
      size: bytes.length,
      packs: new PackWriter(store, { targetBytes: 256 * 1024 }),
      holds: () => false,
      encode: encodeBlob,
      chunker: SMALL,
      hasher,
      ringBytes: 1, // the ring is then the chunker's maximum, 32 KiB: ~90 laps
      sha256: true,
    });
    for (let at = 0; at < bytes.length; at += 50_000) {
      await writer.write(bytes.subarray(at, at + 50_000));
    }
    const file = await writer.finish();
    assert.equal(toHex(file.sha256!), sha256(bytes));
    let start = 0;
    const expected = new Set(
      chunkBoundaries(bytes, SMALL).map((end) => {
        const id = sha256(bytes.subarray(start, end));
        start = end;
        return id;
      }),
    );
    const stored = new Set<string>();
    const kinds = new Set<string>();
    for (const pack of file.packs) {
      const all = await folder.get(pack.name);
      for (const blob of pack.blobs) {
        const at = all.subarray(blob.offset, blob.offset + blob.storedLength);
        const raw = decodeBlob(at, blob.compression, blob.rawLength);
        assert.equal(sha256(raw), toHex(blob.id), "a chunk's bytes were overwritten");
        stored.add(toHex(blob.id));
        kinds.add(blob.compression);
      }
    }
    assert.deepEqual(stored, expected, "every chunk stored once");
    assert.deepEqual(kinds, new Set(["none", "zstd"]));
  } finally {
    hasher.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("the declared size is a limit: a byte more is refused before it is taken", async () => {
  const root = await Deno.makeTempDir({ prefix: "backup-chunk-ring-" });
  try {
    const writer = new ChunkedWriter({
      size: 100_000,
      packs: new PackWriter(await FolderStore.open({ root })),
      holds: () => false,
      encode: encodeBlob,
      chunker: SMALL,
      hasher: INLINE_HASHER,
    });
    await writer.write(new Uint8Array(99_999));
    await assert.rejects(writer.write(new Uint8Array(2)), RangeError);
    await writer.abort();
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("noise is told by its bytes: random chunks are stored raw, text is not noise", () => {
  const random = crypto.getRandomValues(new Uint8Array(65_536));
  assert.ok(entropyBitsPerByte(random) >= NOISE_BITS_PER_BYTE);
  const text = new TextEncoder().encode("words of a text, a few of them\n".repeat(3000));
  assert.ok(entropyBitsPerByte(text) < 5);
  assert.equal(entropyBitsPerByte(new Uint8Array(1000)), 0);
  // Any length, counted as one table would: 5 values, one of them twice, in 6 bytes.
  const odd = new Uint8Array([7, 1, 2, 7, 3, 4]);
  const naive = -[2, 1, 1, 1, 1].reduce((sum, n) => sum + (n / 6) * Math.log2(n / 6), 0);
  assert.ok(Math.abs(entropyBitsPerByte(odd) - naive) < 1e-12);
  const chunk = seededBytes(8, 1024 * 1024);
  assert.equal(encodeBlob(chunk).stored, chunk, "noise: stored as it is");
});
