/**
 * A review of the upload path through the shared ring (`ChunkedWriter`, `SharedRing`,
 * `PackWriter`, `encodeBlob`), each test a defect found:
 * - an upload aborted while one of its writes waits must not go on writing into its ring once the
 *   ring is given back (the next upload takes it: its chunks would be stored with another file's
 *   bytes under their own ids);
 * - uploads smaller than the ring reuse the kept one (a new ring per upload is new shared memory
 *   for the hashing worker, which keeps it until it collects);
 * - a pack writer aborted while an `add` opens its pack leaves no file behind and nothing open;
 * - noise that repeats itself within a chunk (a random page over and over, copies of one compressed
 *   file) is still compressed: the entropy count alone takes it for noise.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import type { ChunkerOptions } from "../chunking/fastcdc.ts";
import { toHex } from "../common/hex.ts";
import { decodeBlob, encodeBlob } from "../repository/blob_codec.ts";
import { ChunkHasher, INLINE_HASHER } from "../repository/chunk_hasher.ts";
import { ChunkedWriter } from "../repository/chunked_writer.ts";
import { PackWriter } from "../repository/pack_writer.ts";
import { FolderStore } from "../objects/folder_store.ts";
import type { ObjectStore } from "../objects/object_store.ts";
import { seededBytes, withCreate } from "./_repository.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const SMALL: ChunkerOptions = { minSize: 2048, averageSize: 8192, maxSize: 32768 };
const sha256 = (bytes: Uint8Array) => toHex(createHash("sha256").update(bytes).digest());

/** Event-loop turns a settled promise may take to be seen; far more than any of these needs. */
const TURNS = 200;

/** Whether `promise` settles within `TURNS` turns of the event loop. */
async function settlesSoon(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(() => settled = true, () => settled = true);
  for (let turn = 0; turn < TURNS && !settled; turn++) {
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  return settled;
}

/** Hashes inline, but holds back the answer to its first call until `open` is called. */
class HeldHasher extends ChunkHasher {
  readonly gate = Promise.withResolvers<void>();
  #calls = 0;
  constructor() {
    super(0);
  }
  override hashShared(
    shared: SharedArrayBuffer,
    spans: readonly (readonly [number, number])[],
    stream?: number,
  ): Promise<Uint8Array> {
    const id = super.hashShared(shared, spans, stream);
    return this.#calls++ === 0 ? this.gate.promise.then(() => id) : id;
  }
}

/** A folder store whose writes wait for `open` (and files it creates, counted). */
async function gatedStore(root: string) {
  const folder = await FolderStore.open({ root });
  const gate = Promise.withResolvers<void>();
  const store: ObjectStore = withCreate(folder, async (name) => {
    const inner = await folder.create(name);
    return {
      ...inner,
      write: async (bytes) => {
        await gate.promise;
        await inner.write(bytes);
      },
    };
  });
  return { store, folder, open: () => gate.resolve() };
}

Deno.test("an upload aborted while its write waits on a hash stops writing: the next upload's ring keeps its own bytes", async () => {
  const root = await Deno.makeTempDir({ prefix: "backup-ring-review-" });
  try {
    const folder = await FolderStore.open({ root });
    // A: a file the repository holds all of (nothing stored), its first hash held back.
    const held = new HeldHasher();
    const bytesA = seededBytes(1, 256 * 1024);
    const a = new ChunkedWriter({
      size: bytesA.length,
      packs: new PackWriter(folder, { targetBytes: 1024 * 1024 }),
      holds: () => true,
      encode: encodeBlob,
      chunker: SMALL,
      hasher: held,
      ringBytes: 1, // the ring is the chunker's maximum: the full size, kept for the next upload
    });
    const writing = a.write(bytesA);
    writing.catch(() => {});
    const aborting = a.abort();
    // Before the fix, the abort resolved at once and gave the ring back to the next upload.
    await settlesSoon(aborting);
    // B: the next upload, stored raw from the ring, its pack writes waiting on a slow disk.
    const gated = await gatedStore(root);
    const bytesB = seededBytes(2, 256 * 1024);
    const b = new ChunkedWriter({
      size: bytesB.length,
      packs: new PackWriter(gated.store, { targetBytes: 1024 * 1024 }),
      holds: () => false,
      encode: (raw) => ({ stored: raw, compression: "none" }),
      chunker: SMALL,
      hasher: INLINE_HASHER,
      ringBytes: 1,
      sha256: true,
    });
    const writingB = b.write(bytesB.subarray(0, 20_000));
    // A's held hash answers: A must not take another byte into a ring it no longer owns.
    held.gate.resolve();
    assert.ok(await settlesSoon(writing), "the aborted upload's write settles (it waited forever)");
    await assert.rejects(writing, /aborted/, "a write of an aborted upload fails");
    await aborting;
    gated.open();
    await writingB;
    await b.write(bytesB.subarray(20_000));
    const file = await b.finish();
    assert.equal(toHex(file.sha256!), sha256(bytesB), "B's SHA-256 is of B's bytes");
    for (const pack of file.packs) {
      const all = await folder.get(pack.name);
      for (const blob of pack.blobs) {
        const stored = all.subarray(blob.offset, blob.offset + blob.storedLength);
        const raw = decodeBlob(stored, blob.compression, blob.rawLength);
        assert.equal(sha256(raw), toHex(blob.id), "a chunk of B stored with other bytes");
      }
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

/** Hashes inline and remembers the memory of every chunk it was given. */
class RecordingHasher extends ChunkHasher {
  readonly memories = new Set<SharedArrayBuffer>();
  constructor() {
    super(0);
  }
  override hashShared(
    shared: SharedArrayBuffer,
    spans: readonly (readonly [number, number])[],
    stream?: number,
  ): Promise<Uint8Array> {
    this.memories.add(shared);
    return super.hashShared(shared, spans, stream);
  }
}

Deno.test("uploads smaller than the ring, one after the other, reuse one ring: the worker is handed no new memory", async () => {
  // Each new SharedArrayBuffer a worker was handed stays in its heap until it collects: 150
  // uploads of 5 MiB one at a time held 270 MiB of RSS, against 160 at c061cbe.
  const root = await Deno.makeTempDir({ prefix: "backup-ring-review-" });
  try {
    const folder = await FolderStore.open({ root });
    const hasher = new RecordingHasher();
    for (let n = 0; n < 4; n++) {
      const bytes = seededBytes(10 + n, 20_000); // under the ring's 32 KiB
      const writer = new ChunkedWriter({
        size: bytes.length,
        packs: new PackWriter(folder),
        holds: () => false,
        encode: encodeBlob,
        chunker: SMALL,
        hasher,
        ringBytes: 1,
        sha256: true,
      });
      await writer.write(bytes);
      const file = await writer.finish();
      assert.equal(toHex(file.sha256!), sha256(bytes));
    }
    assert.equal(hasher.memories.size, 1, "one ring for all four");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a pack writer aborted while an add opens its pack leaves no file and nothing open", async () => {
  const root = await Deno.makeTempDir({ prefix: "backup-ring-review-" });
  try {
    const folder = await FolderStore.open({ root });
    const created = Promise.withResolvers<void>();
    const store = withCreate(folder, async (name) => {
      await created.promise;
      return await folder.create(name);
    });
    const packs = new PackWriter(store);
    const adding = packs.add(new Uint8Array(32), {
      stored: new Uint8Array(100),
      compression: "none",
    }, 100);
    adding.catch(() => {});
    const aborting = packs.abort();
    created.resolve();
    await assert.rejects(adding, /finished|aborted/);
    await aborting;
    const files: string[] = [];
    const walk = async (dir: string) => {
      for await (const entry of Deno.readDir(dir)) {
        if (entry.isDirectory) await walk(`${dir}/${entry.name}`);
        else files.push(entry.name);
      }
    };
    await walk(root);
    assert.deepEqual(files.filter((name) => !name.startsWith(".")), [], "nothing left behind");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("noise that repeats within a chunk is compressed; noise that does not is stored raw", () => {
  // A random 4 KiB page over and over (a disk image's repeated block).
  const page = seededBytes(3, 4096);
  const pages = new Uint8Array(1024 * 1024);
  for (let at = 0; at < pages.length; at += page.length) pages.set(page, at);
  // Copies of one compressed 10 KiB file behind 512-byte headers (a tar of the same file).
  const member = seededBytes(4, 10_000);
  const tar = new Uint8Array(1024 * 1024);
  for (let at = 0, n = 0; at < tar.length; at += 512 + member.length, n++) {
    tar.fill(n & 0xff, at, Math.min(tar.length, at + 512));
    tar.set(
      member.subarray(0, Math.max(0, Math.min(member.length, tar.length - at - 512))),
      at + 512,
    );
  }
  for (const [label, chunk] of [["a page repeated", pages], ["a tar of copies", tar]] as const) {
    const encoded = encodeBlob(chunk);
    assert.equal(encoded.compression, "zstd", `${label}: compressed`);
    assert.ok(encoded.stored.length < chunk.length / 10, `${label}: ${encoded.stored.length}`);
    assert.deepEqual(decodeBlob(encoded.stored, encoded.compression, chunk.length), chunk);
  }
  const noise = seededBytes(5, 1024 * 1024);
  assert.equal(encodeBlob(noise).stored, noise, "noise: stored as it is");
});
