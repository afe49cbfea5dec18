/**
 * Rings are pooled: at most `KEPT_RINGS` full-size rings exist for the hashing worker, each reused
 * by the next upload; an upload that finds the pool in use gets a ring of its own that is hashed on
 * the event loop, never handed to the worker (whose heap would keep it until it happens to collect:
 * 8 uploads at once took twice the memory of the release before rings).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { chunkBoundaries, type ChunkerOptions } from "../chunking/fastcdc.ts";
import { toHex } from "../common/hex.ts";
import { encodeBlob } from "../repository/blob_codec.ts";
import { ChunkHasher } from "../repository/chunk_hasher.ts";
import { ChunkedWriter } from "../repository/chunked_writer.ts";
import { PackWriter } from "../repository/pack_writer.ts";
import { KEPT_RINGS, SharedRing } from "../repository/shared_ring.ts";
import { FolderStore } from "../objects/folder_store.ts";
import { seededBytes } from "./_repository.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const SMALL: ChunkerOptions = { minSize: 2048, averageSize: 8192, maxSize: 32768 };
const sha256 = (bytes: Uint8Array) => toHex(createHash("sha256").update(bytes).digest());

Deno.test("at most KEPT_RINGS pooled rings exist; released ones are reused, others are not kept", () => {
  const size = 40_000; // a size no other test uses: the pool's rings of other sizes are dropped
  const rings = Array.from({ length: KEPT_RINGS + 2 }, () => SharedRing.take(size, size));
  assert.deepEqual(rings.map((ring) => ring.pooled), [
    ...Array(KEPT_RINGS).fill(true),
    false,
    false,
  ]);
  for (const ring of rings) ring.release();
  const again = Array.from({ length: KEPT_RINGS + 1 }, () => SharedRing.take(size, size));
  const pooled = new Set(rings.slice(0, KEPT_RINGS).map((ring) => ring.memory));
  assert.ok(again.slice(0, KEPT_RINGS).every((ring) => ring.pooled && pooled.has(ring.memory)));
  assert.equal(again[KEPT_RINGS].pooled, false, "a ring past the pool was not kept");
  assert.ok(
    again[KEPT_RINGS].memory instanceof ArrayBuffer,
    "past the pool, plain memory: V8 collects it soon, as it does not a dropped shared one",
  );
  assert.ok(!pooled.has(again[KEPT_RINGS].memory));
  for (const ring of again) ring.release();
});

Deno.test("an upload past the pool hashes on the event loop, with the same ids and digest", async () => {
  const root = await Deno.makeTempDir({ prefix: "backup-ring-pool-" });
  const hasher = new ChunkHasher(1);
  let sharedCalls = 0;
  const hashShared = hasher.hashShared.bind(hasher);
  hasher.hashShared = (...args) => (sharedCalls++, hashShared(...args));
  const full = SMALL.maxSize!; // the writer's ring with `ringBytes: 1`
  const held = Array.from({ length: KEPT_RINGS }, () => SharedRing.take(full, full));
  try {
    const bytes = seededBytes(7, 300_000);
    const upload = async () => {
      const writer = new ChunkedWriter({
        size: bytes.length,
        packs: new PackWriter(await FolderStore.open({ root })),
        holds: () => false,
        encode: encodeBlob,
        chunker: SMALL,
        hasher,
        ringBytes: 1,
        sha256: true,
      });
      await writer.write(bytes);
      return await writer.finish();
    };
    const past = await upload();
    assert.equal(sharedCalls, 0, "the worker never saw the ring past the pool");
    for (const ring of held) ring.release();
    const pooled = await upload();
    assert.ok(sharedCalls > 0, "a pooled ring goes to the worker");
    let start = 0;
    const ids = chunkBoundaries(bytes, SMALL).map((end) =>
      sha256(bytes.subarray(start, start = end))
    );
    for (const file of [past, pooled]) {
      assert.equal(toHex(file.sha256!), sha256(bytes));
      const got = Array.from(
        { length: file.count },
        (_, i) => toHex(file.ids.subarray(i * 32, i * 32 + 32)),
      );
      assert.deepEqual(got, ids);
    }
  } finally {
    hasher.close();
    await Deno.remove(root, { recursive: true });
  }
});
