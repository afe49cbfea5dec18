/**
 * Reading a chunked file in runs: adjacent chunks of one pack are read together (one ranged read
 * into a buffer the source reuses), every chunk of a run is still checked against its id before
 * any of the run's bytes are handed out, and what is read ahead is bounded in bytes, not by the
 * file's size.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { FolderStore } from "../objects/folder_store.ts";
import { type ByteRange, ObjectNotFoundError, type ObjectStore } from "../objects/object_store.ts";
import { encodeBlob } from "../repository/blob_codec.ts";
import { ChunkHasher, INLINE_HASHER } from "../repository/chunk_hasher.ts";
import {
  chunkedSource,
  CorruptChunkError,
  type Placement,
  type ReadAheadOptions,
} from "../repository/chunked_source.ts";
import { READ_BUFFERS_DEFAULTS, ReadBuffers } from "../repository/read_buffers.ts";
import { PackWriter } from "../repository/pack_writer.ts";
import { ServerRefusedError } from "../client/client_errors.ts";
import { bytesSource } from "../io/byte_stream.ts";
import { chunksOf, flipByte, randomBytes } from "./_packs.ts";
import { makeKey, startV2Server } from "./_v2.ts";
import { eventually } from "./_helpers.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const KiB = 1024;
const MiB = 1024 * KiB;

/** Reads of a store, counted: how many, how many bytes, and the buffers read into. */
interface Reads {
  calls: number;
  bytes: number;
  buffers: Set<ArrayBufferLike>;
}

/** `store` with its reads counted into `reads` (`readInto` kept if the store has it). */
function counted(store: FolderStore, reads: Reads): ObjectStore {
  return {
    put: (name, body) => store.put(name, body),
    create: (name) => store.create(name),
    stat: (name) => store.stat(name),
    list: (prefix) => store.list(prefix),
    delete: (name) => store.delete(name),
    get(name: string, range?: ByteRange) {
      reads.calls++;
      reads.bytes += range?.length ?? 0;
      return store.get(name, range);
    },
    readInto(name: string, offset: number, target: Uint8Array) {
      reads.calls++;
      reads.bytes += target.length;
      reads.buffers.add(target.buffer);
      return store.readInto(name, offset, target);
    },
  };
}

/** A stored file: its chunks in packs, their places, and the bytes they make. */
interface Stored {
  root: string;
  store: FolderStore;
  placements: Placement[];
  bytes: Uint8Array;
  /** Each pack's path on disk, by object name. */
  pathOf: (pack: string) => string;
}

/**
 * `chunks` written into packs of about `packBytes`: random ones stored as they are, every fifth
 * compressible (a zstd blob amid raw ones, in the same run).
 */
async function storeChunks(count: number, chunkBytes: number, packBytes: number): Promise<Stored> {
  const root = await Deno.makeTempDir({ prefix: "backup-runs-" });
  const store = await FolderStore.open({ root });
  const packs = new PackWriter(store, { targetBytes: packBytes });
  const chunks: Uint8Array[] = [];
  for (let n = 0; n < count; n++) {
    const chunk = n % 5 === 4
      ? new TextEncoder().encode(`chunk ${n} of text `.repeat(chunkBytes / 16)).slice(0, chunkBytes)
      : randomBytes(chunkBytes + n); // sizes differ: a chunk's bytes can't pass for another's
    const id = new Uint8Array(createHash("sha256").update(chunk).digest());
    await packs.add(id, encodeBlob(chunk), chunk.length);
    chunks.push(chunk);
  }
  const written = await packs.finish();
  let seq = 0;
  const placements = written.flatMap((pack) =>
    pack.blobs.map((blob) => ({ ...blob, seq: seq++, pack: pack.name }))
  );
  assert.ok(placements.some((p) => p.compression === "zstd"), "some chunks are compressed");
  const bytes = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let at = 0;
  for (const chunk of chunks) bytes.set(chunk, (at += chunk.length) - chunk.length);
  return { root, store, placements, bytes, pathOf: (pack) => `${root}/${pack}` };
}

function sourceOf(
  stored: Stored,
  store: ObjectStore,
  hasher: ChunkHasher,
  options: ReadAheadOptions,
) {
  const { placements } = stored;
  return chunkedSource(
    store,
    placements.length,
    (from, limit) => placements.slice(from, from + limit),
    hasher,
    options,
  );
}

/**
 * Everything `source` gives, through `read` into a small buffer or through `readView`, and what
 * it threw, if anything; `onEach` is told the bytes taken so far.
 */
async function readAll(
  source: ReturnType<typeof sourceOf>,
  how: "read" | "readView",
  onEach: (taken: number) => void = () => {},
): Promise<{ bytes: Uint8Array; error?: unknown }> {
  const parts: Uint8Array[] = [];
  const buffer = new Uint8Array(100 * KiB);
  let taken = 0;
  let error: unknown;
  try {
    for (;;) {
      let part: Uint8Array | null;
      if (how === "read") {
        const count = await source.read(buffer);
        part = count === null ? null : buffer.slice(0, count);
      } else {
        const view = await source.readView(300 * KiB);
        part = view && view.slice(); // valid until the next call
      }
      if (part === null) break;
      parts.push(part);
      onEach(taken += part.length);
    }
  } catch (thrown) {
    error = thrown;
  }
  const bytes = new Uint8Array(taken);
  let at = 0;
  for (const part of parts) bytes.set(part, (at += part.length) - part.length);
  return { bytes, error };
}

const RUN_BYTES = 1 * MiB;
/** Runs of 1 MiB, 2 MiB ahead, from a pool of its own (16 MiB: never short here). */
const options = (buffers = new ReadBuffers({ bufferBytes: RUN_BYTES, maxBytes: 16 * MiB })) => ({
  aheadBytes: 2 * MiB,
  buffers,
});

Deno.test("adjacent chunks of one pack are read in runs of at most runBytes, across packs, bytes exact", async () => {
  // 48 chunks of ~200 KiB in packs of ~3 MiB: 16 packs' worth of chunks would be 48 reads chunk by
  // chunk; in runs of 1 MiB it is about one read per MiB, plus one per pack boundary.
  const stored = await storeChunks(48, 200 * KiB, 3 * MiB);
  const hasher = new ChunkHasher(1);
  try {
    const packs = new Set(stored.placements.map((p) => p.pack)).size;
    assert.ok(packs >= 3, `the file spans packs (${packs})`);
    const storedBytes = stored.placements.reduce((sum, p) => sum + p.storedLength, 0);
    const bound = Math.ceil(storedBytes / (RUN_BYTES - 210 * KiB)) + packs;
    for (const how of ["read", "readView"] as const) {
      const reads: Reads = { calls: 0, bytes: 0, buffers: new Set() };
      const source = sourceOf(stored, counted(stored.store, reads), hasher, options());
      await source.ready();
      const { bytes, error } = await readAll(source, how);
      assert.equal(error, undefined);
      assert.equal(bytes.length, stored.bytes.length, `${how}: every byte`);
      assert.ok(bytes.every((byte, at) => byte === stored.bytes[at]), `${how}: the bytes stored`);
      assert.ok(
        reads.calls <= bound && reads.calls < stored.placements.length / 2,
        `${how}: ${reads.calls} reads for ${stored.placements.length} chunks (at most ${bound})`,
      );
      assert.equal(reads.bytes, storedBytes, `${how}: each stored byte read once`);
    }
  } finally {
    hasher.close();
    await Deno.remove(stored.root, { recursive: true });
  }
});

Deno.test("a damaged chunk in the middle of the first run: refused before any byte, naming it", async () => {
  const stored = await storeChunks(12, 100 * KiB, 4 * MiB);
  const hasher = new ChunkHasher(1);
  try {
    const damaged = stored.placements[3];
    assert.equal(damaged.pack, stored.placements[0].pack, "in the first run's pack");
    assert.equal(damaged.compression, "none");
    await flipByte(stored.pathOf(damaged.pack), damaged.offset + damaged.storedLength - 1);
    const source = sourceOf(stored, stored.store, hasher, options());
    await assert.rejects(source.ready(), (error: unknown) => {
      assert.ok(error instanceof CorruptChunkError, `got ${error}`);
      assert.match(error.message, new RegExp(`at ${damaged.offset} `));
      return true;
    });
    await assert.rejects(source.read(new Uint8Array(4096)), CorruptChunkError);
  } finally {
    hasher.close();
    await Deno.remove(stored.root, { recursive: true });
  }
});

Deno.test("a damaged chunk in the middle of a later run: the bytes before its run, then an error, never its bytes", async () => {
  const stored = await storeChunks(40, 100 * KiB, 16 * MiB);
  const hasher = new ChunkHasher(1);
  try {
    const damaged = stored.placements[25];
    assert.equal(damaged.compression, "none");
    await flipByte(stored.pathOf(damaged.pack), damaged.offset + 7);
    const damagedAt = stored.placements.slice(0, 25).reduce((sum, p) => sum + p.rawLength, 0);
    for (const how of ["read", "readView"] as const) {
      const source = sourceOf(stored, stored.store, hasher, options());
      await source.ready();
      const { bytes, error } = await readAll(source, how);
      assert.ok(error instanceof CorruptChunkError, `${how}: got ${error}`);
      const given = bytes.length;
      assert.ok(
        bytes.every((byte, at) => byte === stored.bytes[at]),
        `${how}: every byte handed out is a stored byte`,
      );
      assert.ok(
        given <= damagedAt,
        `${how}: ${given} bytes out, the damaged chunk at ${damagedAt}`,
      );
      assert.ok(given >= damagedAt - RUN_BYTES, `${how}: the runs before it came out`);
    }
  } finally {
    hasher.close();
    await Deno.remove(stored.root, { recursive: true });
  }
});

Deno.test("read-ahead is bounded in bytes and buffers, not by the file's size; an idle pool keeps none", async () => {
  const stored = await storeChunks(120, 150 * KiB, 4 * MiB);
  try {
    const reads: Reads = { calls: 0, bytes: 0, buffers: new Set() };
    const pool = new ReadBuffers({ bufferBytes: RUN_BYTES, maxBytes: 16 * MiB });
    // Inline hashing: the buffers stay the same objects, so that reuse can be seen.
    const source = sourceOf(stored, counted(stored.store, reads), INLINE_HASHER, options(pool));
    await source.ready();
    const { aheadBytes } = options();
    const limit = aheadBytes + RUN_BYTES;
    assert.ok(reads.bytes <= limit, `${reads.bytes} bytes asked before the first is taken`);
    let most = 0;
    let mostBuffers = 0;
    const { bytes, error } = await readAll(source, "readView", (taken) => {
      most = Math.max(most, reads.bytes - taken);
      mostBuffers = Math.max(mostBuffers, pool.allocated);
    });
    assert.equal(error, undefined);
    assert.equal(bytes.length, stored.bytes.length);
    assert.ok(most <= limit + RUN_BYTES, `at most ${most} bytes read ahead of the caller`);
    // 18 MiB read through buffers of 1 MiB, reused: as many as runs are ever held, not 18.
    const held = Math.ceil(aheadBytes / RUN_BYTES) + 2;
    assert.ok(reads.buffers.size > 0, "reads go into the pool's buffers");
    assert.ok(
      reads.buffers.size <= held && mostBuffers <= held,
      `${reads.buffers.size} buffers for ${reads.calls} reads (at most ${held})`,
    );
    assert.equal(pool.allocated, 0, "the reader done, the pool keeps nothing");
  } finally {
    await Deno.remove(stored.root, { recursive: true });
  }
});

Deno.test("readers at once share the pool's cap: past it they read chunk by chunk, bytes exact", async () => {
  const stored = await storeChunks(60, 150 * KiB, 4 * MiB);
  const hasher = new ChunkHasher(1);
  try {
    const pool = new ReadBuffers({ bufferBytes: RUN_BYTES, maxBytes: 3 * MiB });
    const reads: Reads = { calls: 0, bytes: 0, buffers: new Set() };
    let mostBuffers = 0;
    let taken = 0;
    let mostAhead = 0;
    // Each would read 8 MiB ahead alone: 5 at once would hold 45 MiB without the pool's cap.
    const deep = { ...options(pool), aheadBytes: 8 * MiB };
    const results = await Promise.all([0, 1, 2, 3, 4].map(async (n) => {
      const source = sourceOf(stored, counted(stored.store, reads), hasher, deep);
      await source.ready();
      let mine = 0;
      return await readAll(source, n % 2 ? "read" : "readView", (sofar) => {
        taken += sofar - mine;
        mine = sofar;
        mostBuffers = Math.max(mostBuffers, pool.allocated);
        mostAhead = Math.max(mostAhead, reads.bytes - taken);
      });
    }));
    for (const { bytes, error } of results) {
      assert.equal(error, undefined);
      assert.equal(bytes.length, stored.bytes.length);
      assert.ok(bytes.every((byte, at) => byte === stored.bytes[at]), "the bytes stored");
    }
    assert.ok(mostBuffers <= 3, `${mostBuffers} buffers lent at most (the cap is 3)`);
    // The cap, and past it one run in flight and one taken per reader.
    const bound = 3 * MiB + 5 * 2 * RUN_BYTES;
    assert.ok(mostAhead <= bound, `${mostAhead} bytes read and not yet taken (at most ${bound})`);
    assert.equal(pool.allocated, 0, "every buffer back, none kept");
  } finally {
    hasher.close();
    await Deno.remove(stored.root, { recursive: true });
  }
});

Deno.test("a reader closed part-way gives its buffers back, those in flight once their reads end", async () => {
  const stored = await storeChunks(40, 150 * KiB, 8 * MiB);
  const hasher = new ChunkHasher(1);
  try {
    const pool = new ReadBuffers({ bufferBytes: RUN_BYTES, maxBytes: 16 * MiB });
    const source = sourceOf(stored, stored.store, hasher, options(pool));
    await source.ready();
    assert.notEqual(await source.readView(100 * KiB), null);
    assert.ok(pool.allocated > 0);
    source.close();
    source.close(); // idempotent
    await eventually(() => Promise.resolve(pool.allocated === 0), "the buffers back");
  } finally {
    hasher.close();
    await Deno.remove(stored.root, { recursive: true });
  }
});

Deno.test("a pack removed mid-read (its chunks moved by garbage collection): its runs are looked up again, bytes exact", async () => {
  const stored = await storeChunks(40, 100 * KiB, 64 * MiB);
  const hasher = new ChunkHasher(1);
  try {
    // The same chunks again, in a pack of their own: where a repack would have moved them.
    const packs = new PackWriter(stored.store, { targetBytes: 64 * MiB });
    const original = stored.placements;
    for (const placement of original) {
      const blob = await stored.store.get(placement.pack, {
        offset: placement.offset,
        length: placement.storedLength,
      });
      await packs.add(
        placement.id,
        { stored: blob, compression: placement.compression },
        placement.rawLength,
      );
    }
    const [moved] = await packs.finish();
    const movedPlacements = moved.blobs.map((blob, seq) => ({ ...blob, seq, pack: moved.name }));
    let current = original;
    const source = chunkedSource(
      stored.store,
      original.length,
      (from, limit) => current.slice(from, from + limit),
      hasher,
      options(),
    );
    await source.ready();
    await stored.store.delete(original[0].pack);
    current = movedPlacements;
    const { bytes, error } = await readAll(source, "readView");
    assert.equal(error, undefined);
    assert.equal(bytes.length, stored.bytes.length);
    assert.ok(bytes.every((byte, at) => byte === stored.bytes[at]), "the bytes stored");
  } finally {
    hasher.close();
    await Deno.remove(stored.root, { recursive: true });
  }
});

Deno.test("through the server: a damaged chunk inside the first run is answered 'damaged' before any byte", async () => {
  const key = await makeKey();
  await using t = await startV2Server([{ id: 77, keys: [key] }]);
  using client = await t.connect(77, key);
  const bytes = randomBytes(6 * MiB);
  await client.backup("f.bin", bytesSource(bytes), bytes.length);
  const chunks = chunksOf(t.root, 77, "f.bin");
  // The last chunk of the first run: adjacent to the ones before it in their pack, within a run.
  let last = 0;
  let runBytes = chunks[0].storedLength;
  while (
    last + 1 < chunks.length && chunks[last + 1].pack === chunks[0].pack &&
    chunks[last + 1].offset === chunks[last].offset + chunks[last].storedLength &&
    runBytes + chunks[last + 1].storedLength <= READ_BUFFERS_DEFAULTS.bufferBytes
  ) runBytes += chunks[++last].storedLength;
  assert.ok(last >= 1, "the first run holds more than one chunk");
  await flipByte(chunks[last].path, chunks[last].offset + 9);
  let received = 0;
  const sink = {
    write(part: Uint8Array) {
      received += part.length;
      return Promise.resolve(part.length);
    },
  };
  await assert.rejects(client.retrieve("f.bin", sink), (error: unknown) => {
    assert.ok(error instanceof ServerRefusedError, `got ${error}`);
    assert.match(error.reason, /the stored copy of this file is damaged/);
    return true;
  });
  assert.equal(received, 0, "no byte of the file reached the client");
});

Deno.test("FolderStore.readInto reads a range into the caller's buffer: fewer bytes at the end, none past it", async () => {
  const root = await Deno.makeTempDir({ prefix: "backup-read-into-" });
  try {
    const store = await FolderStore.open({ root });
    await store.put("packs/00/a", new TextEncoder().encode("hello, world"));
    const target = new Uint8Array(5);
    assert.equal(await store.readInto("packs/00/a", 7, target), 5);
    assert.equal(new TextDecoder().decode(target), "world");
    assert.equal(await store.readInto("packs/00/a", 10, target), 2);
    assert.equal(await store.readInto("packs/00/a", 99, target), 0);
    await assert.rejects(store.readInto("packs/00/b", 0, target), ObjectNotFoundError);
    await assert.rejects(store.readInto("packs/00/a", -1, target), RangeError);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
