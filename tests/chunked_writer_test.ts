/**
 * `ChunkedWriter`: the list of chunk ids depends on the bytes only, never on how they arrive; a
 * chunk met twice is stored once; a chunk the repository holds is not stored at all.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { chunkBoundaries, type ChunkerOptions } from "../chunking/fastcdc.ts";
import { toHex } from "../common/hex.ts";
import { decodeBlob, encodeBlob } from "../repository/blob_codec.ts";
import { CHUNK_ID_BYTES, type ChunkedFile, ChunkedWriter } from "../repository/chunked_writer.ts";
import { PackWriter } from "../repository/pack_writer.ts";
import { ChunkHasher } from "../repository/chunk_hasher.ts";
import { FolderStore } from "../objects/folder_store.ts";
import { seeded, seededBytes, withCreate } from "./_repository.ts";

Deno.test.sanitizer({ ops: true, resources: true });

/** Small chunks, so that a few hundred KiB make many. */
const SMALL: ChunkerOptions = { minSize: 2048, averageSize: 8192, maxSize: 32768 };

function idsOf(file: ChunkedFile): string[] {
  return Array.from(
    { length: file.count },
    (_, n) => toHex(file.ids.subarray(n * CHUNK_ID_BYTES, (n + 1) * CHUNK_ID_BYTES)),
  );
}

/** The ids the chunker's boundaries give, computed without the writer. */
function expectedIds(bytes: Uint8Array): string[] {
  let start = 0;
  return chunkBoundaries(bytes, SMALL).map((end) => {
    const id = createHash("sha256").update(bytes.subarray(start, end)).digest("hex");
    start = end;
    return id;
  });
}

/** Writes `bytes` through a writer in pieces of the sizes `pieces` gives; returns what it stored. */
async function writeThrough(
  bytes: Uint8Array,
  pieces: () => number,
  holds: (id: Uint8Array) => boolean = () => false,
  hasher?: ChunkHasher,
) {
  const root = await Deno.makeTempDir({ prefix: "backup-chunked-writer-" });
  try {
    const store = await FolderStore.open({ root });
    const added: string[] = [];
    const packs = new PackWriter(store, { targetBytes: 64 * 1024 });
    const add = packs.add.bind(packs);
    packs.add = (id, encoded, rawLength) => {
      added.push(toHex(id));
      return add(id, encoded, rawLength);
    };
    const writer = new ChunkedWriter({
      size: bytes.length,
      packs,
      holds,
      encode: encodeBlob,
      chunker: SMALL,
      hasher,
    });
    const reused = new Uint8Array(bytes.length); // the caller's buffer, overwritten after each write
    for (let at = 0; at < bytes.length;) {
      const count = Math.min(bytes.length - at, Math.max(1, pieces()));
      reused.set(bytes.subarray(at, at + count));
      await writer.write(reused.subarray(0, count));
      reused.fill(0xee, 0, count);
      at += count;
    }
    const file = await writer.finish();
    return { file, added };
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("the same ids whatever the sizes of the writes", async () => {
  const bytes = seededBytes(9, 300_000);
  const expected = expectedIds(bytes);
  assert.ok(expected.length > 20);
  const random = seeded(10);
  for (
    const pieces of [
      () => bytes.length,
      () => 1,
      () => 4096,
      () => 1 + Math.floor(random() * 70_000),
    ]
  ) {
    const small = pieces() === 1 ? bytes.subarray(0, 40_000) : bytes;
    const { file } = await writeThrough(small, pieces);
    assert.deepEqual(idsOf(file), small === bytes ? expected : expectedIds(small));
  }
});

Deno.test("hashed in a worker: the same ids and stored chunks, in file order", async () => {
  const bytes = seededBytes(12, 600_000);
  const hasher = new ChunkHasher(2);
  try {
    const random = seeded(13);
    const inWorker = await writeThrough(
      bytes,
      () => 1 + Math.floor(random() * 50_000),
      () => false,
      hasher,
    );
    const inline = await writeThrough(bytes, () => 65_536);
    assert.deepEqual(idsOf(inWorker.file), expectedIds(bytes));
    assert.deepEqual(inWorker.added, inline.added, "the same chunks stored, in the same order");
  } finally {
    hasher.close();
  }
  // Closed: chunks are hashed inline from then on, and still right.
  const after = await hasher.hash(bytes.slice(0, 100));
  assert.deepEqual(
    toHex(after.id),
    createHash("sha256").update(bytes.subarray(0, 100)).digest("hex"),
  );
});

Deno.test("a chunk met twice in one file is stored once, and listed twice", async () => {
  const block = seededBytes(11, 100_000);
  const bytes = new Uint8Array(block.length * 3);
  for (let n = 0; n < 3; n++) bytes.set(block, n * block.length);
  const { file, added } = await writeThrough(bytes, () => 65536);
  const ids = idsOf(file);
  assert.equal(new Set(added).size, added.length, "no chunk stored twice");
  assert.deepEqual(new Set(added), new Set(ids), "every distinct chunk stored");
  assert.ok(ids.length > added.length + 5, `${ids.length} chunks listed, ${added.length} stored`);
  assert.equal(file.packs.reduce((sum, pack) => sum + pack.blobs.length, 0), added.length);
});

Deno.test("chunks the repository holds are not stored; holds is asked once per chunk stored or not", async () => {
  const bytes = seededBytes(12, 200_000);
  const all = expectedIds(bytes);
  const held = new Set(all.filter((_, n) => n % 2 === 0));
  const asked: string[] = [];
  const { file, added } = await writeThrough(bytes, () => 10_000, (id) => {
    asked.push(toHex(id));
    return held.has(toHex(id));
  });
  assert.deepEqual(idsOf(file), all, "held chunks are still in the list");
  assert.deepEqual(added, all.filter((id) => !held.has(id)), "only the others are stored");
  assert.deepEqual(asked, all);
  assert.equal(
    file.newStoredBytes,
    file.packs.flatMap((pack) => pack.blobs).reduce((sum, blob) => sum + blob.storedLength, 0),
  );
});

Deno.test("the chunk buffer is never larger than the declared size: more bytes are refused", async () => {
  const root = await Deno.makeTempDir({ prefix: "backup-chunked-writer-" });
  try {
    const store = await FolderStore.open({ root });
    const writer = new ChunkedWriter({
      size: 1000,
      packs: new PackWriter(store),
      holds: () => false,
      encode: encodeBlob,
      chunker: SMALL,
    });
    await writer.write(new Uint8Array(1000).fill(1));
    await assert.rejects(writer.write(new Uint8Array(1).fill(1)), RangeError);
    await writer.abort();
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("chunk buffers are reused only once written: slow writes still store every chunk's own bytes", async () => {
  const root = await Deno.makeTempDir({ prefix: "backup-chunked-writer-" });
  const hasher = new ChunkHasher(1);
  try {
    const folder = await FolderStore.open({ root });
    // Every write waits a timer turn first: a buffer handed back before its write would be
    // overwritten by a later chunk while the write still waits.
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
    const bytes = seededBytes(14, 3_000_000);
    const writer = new ChunkedWriter({
      size: bytes.length,
      packs: new PackWriter(store, { targetBytes: 512 * 1024 }),
      holds: () => false,
      encode: encodeBlob,
      chunker: SMALL,
      hasher,
    });
    for (let at = 0; at < bytes.length; at += 65_536) {
      await writer.write(bytes.subarray(at, at + 65_536));
    }
    const file = await writer.finish();
    let blobs = 0;
    for (const pack of file.packs) {
      const all = await folder.get(pack.name);
      for (const blob of pack.blobs) {
        const stored = all.subarray(blob.offset, blob.offset + blob.storedLength);
        const raw = blob.compression === "zstd"
          ? decodeBlob(stored, "zstd", blob.rawLength)
          : stored;
        assert.equal(toHex(createHash("sha256").update(raw).digest()), toHex(blob.id));
        blobs++;
      }
    }
    assert.equal(blobs, new Set(expectedIds(bytes)).size, "every chunk stored once, whole");
  } finally {
    hasher.close();
    await Deno.remove(root, { recursive: true });
  }
});
