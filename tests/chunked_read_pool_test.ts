/**
 * The shared pool of run buffers under a hostile layout or caller: a file whose chunks lie in many
 * packs (every run one small chunk) holds no more of the pool than one of adjacent chunks; a
 * source closed while a read is under way gives that read's buffer back.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { FolderStore } from "../objects/folder_store.ts";
import type { ObjectStore } from "../objects/object_store.ts";
import { encodeBlob } from "../repository/blob_codec.ts";
import { INLINE_HASHER } from "../repository/chunk_hasher.ts";
import { chunkedSource, type Placement } from "../repository/chunked_source.ts";
import { ReadBuffers } from "../repository/read_buffers.ts";
import { PackWriter } from "../repository/pack_writer.ts";
import { randomBytes } from "./_packs.ts";
import { eventually } from "./_helpers.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const KiB = 1024;
const MiB = 1024 * KiB;
const RUN_BYTES = 1 * MiB;
const AHEAD_BYTES = 2 * MiB;

/** `count` chunks of `chunkBytes`, dealt in turn to `packCount` packs: no two in a row adjacent. */
async function scattered(count: number, chunkBytes: number, packCount: number) {
  const root = await Deno.makeTempDir({ prefix: "backup-scatter-" });
  const store = await FolderStore.open({ root });
  const writers = Array.from({ length: packCount }, () => new PackWriter(store, {}));
  const chunks: Uint8Array[] = [];
  for (let n = 0; n < count; n++) {
    const chunk = randomBytes(chunkBytes);
    const id = new Uint8Array(createHash("sha256").update(chunk).digest());
    await writers[n % packCount].add(id, encodeBlob(chunk), chunk.length);
    chunks.push(chunk);
  }
  const packs = await Promise.all(writers.map(async (writer) => (await writer.finish())[0]));
  const placements: Placement[] = chunks.map((_, seq) => {
    const pack = packs[seq % packCount];
    return { ...pack.blobs[Math.floor(seq / packCount)], seq, pack: pack.name };
  });
  return { root, store, placements, bytes: chunks };
}

Deno.test("a file scattered over many packs (runs of one small chunk) holds no more of the pool than read-ahead allows", async () => {
  const stored = await scattered(60, 64 * KiB, 3);
  try {
    const pool = new ReadBuffers({ bufferBytes: RUN_BYTES, maxBytes: 32 * MiB });
    const { placements } = stored;
    const source = chunkedSource(
      stored.store,
      placements.length,
      (from, limit) => placements.slice(from, from + limit),
      INLINE_HASHER,
      { aheadBytes: AHEAD_BYTES, buffers: pool },
    );
    await source.ready();
    let most = pool.allocated;
    let at = 0;
    for (;;) {
      const view = await source.readView(1 * MiB);
      if (view === null) break;
      most = Math.max(most, pool.allocated);
      const chunk = stored.bytes[Math.floor(at / (64 * KiB))];
      assert.ok(view.every((byte, i) => byte === chunk[(at + i) % (64 * KiB)]), "the bytes stored");
      at += view.length;
    }
    assert.equal(at, 60 * 64 * KiB);
    // Read-ahead of 2 MiB in buffers of 1 MiB: the run taken and two ahead, whatever the runs hold
    // (an adjacent file's reader holds as many); not a buffer per 64 KiB chunk, up to the cap.
    const held = Math.ceil(AHEAD_BYTES / RUN_BYTES) + 2;
    assert.ok(most <= held, `one reader held ${most} buffers of the pool (at most ${held})`);
    assert.equal(pool.allocated, 0);
  } finally {
    await Deno.remove(stored.root, { recursive: true });
  }
});

Deno.test("a source closed while a read is under way gives that read's buffer back", async () => {
  const stored = await scattered(8, 64 * KiB, 1);
  try {
    const pool = new ReadBuffers({ bufferBytes: RUN_BYTES, maxBytes: 4 * MiB });
    const { placements } = stored;
    // Reads wait until let go: the close comes while the caller waits on the first run.
    const release = Promise.withResolvers<void>();
    const store: ObjectStore = Object.assign(Object.create(stored.store), {
      readInto: async (name: string, offset: number, target: Uint8Array) => {
        await release.promise;
        return await stored.store.readInto(name, offset, target);
      },
    });
    const source = chunkedSource(
      store,
      placements.length,
      (from, limit) => placements.slice(from, from + limit),
      INLINE_HASHER,
      { aheadBytes: AHEAD_BYTES, buffers: pool },
    );
    const pending = source.readView(64 * KiB);
    source.close();
    release.resolve();
    await pending.then(() => {}, () => {});
    // Nothing reads on: the buffer that read filled is back, the pool empty.
    await eventually(() => Promise.resolve(pool.allocated === 0), "every buffer back");
  } finally {
    await Deno.remove(stored.root, { recursive: true });
  }
});
