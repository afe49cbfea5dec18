/**
 * `PackWriter` with small blobs: they are copied and written together (one write per 256 KiB, not
 * one per blob), in order with the large ones written from their own bytes, and a write of
 * gathered blobs that fails is thrown as any other.
 */
import assert from "node:assert/strict";
import { FolderStore } from "../objects/folder_store.ts";
import type { ObjectStore } from "../objects/object_store.ts";
import { PackWriter, type WrittenPack } from "../repository/pack_writer.ts";
import {
  decodePackHeader,
  decodePackTrailer,
  PACK_TRAILER_BYTES,
} from "../repository/pack_format.ts";
import { randomBytes } from "./_packs.ts";
import { withCreate } from "./_repository.ts";

Deno.test.sanitizer({ ops: true, resources: true });

async function tempStore(): Promise<FolderStore & AsyncDisposable> {
  const root = await Deno.makeTempDir({ prefix: "backup-pack-gather-" });
  const store = await FolderStore.open({ root });
  return Object.assign(store, {
    [Symbol.asyncDispose]: () => Deno.remove(root, { recursive: true }),
  });
}

/** The store, counting the writes its objects get (and failing the `failAt`th, if given). */
function countingStore(
  inner: ObjectStore,
  failAt = 0,
): ObjectStore & { writes: number } {
  const counted = Object.assign(
    withCreate(inner, async (name) => {
      const object = await inner.create(name);
      return {
        ...object,
        write: (bytes) => {
          counted.writes++;
          if (counted.writes === failAt) return Promise.reject(new Error("the disk is full"));
          return object.write(bytes);
        },
      };
    }),
    { writes: 0 },
  );
  return counted;
}

const id = (n: number) => {
  const bytes = new Uint8Array(32);
  new DataView(bytes.buffer).setUint32(0, n);
  return bytes;
};

/** Checks every pack's header against what the writer reported, and each blob's bytes. */
async function assertPacksHold(
  store: ObjectStore,
  packs: WrittenPack[],
  blobs: Uint8Array[],
): Promise<void> {
  let n = 0;
  for (const pack of packs) {
    const bytes = await store.get(pack.name);
    assert.equal(bytes.length, pack.size);
    const trailer = decodePackTrailer(bytes.subarray(bytes.length - PACK_TRAILER_BYTES));
    const headerStart = bytes.length - PACK_TRAILER_BYTES - trailer.headerBytes;
    const entries = decodePackHeader(
      bytes.subarray(headerStart, headerStart + trailer.headerBytes),
      trailer,
      bytes.length,
    );
    assert.deepEqual(entries, pack.blobs, "the header says what the writer reported");
    for (const entry of entries) {
      assert.deepEqual(entry.id, id(n));
      assert.deepEqual(bytes.subarray(entry.offset, entry.offset + entry.storedLength), blobs[n]);
      n++;
    }
  }
  assert.equal(n, blobs.length, "every blob is in a pack");
}

Deno.test("3,000 blobs of 1-32 KiB: about one write per 256 KiB, every blob's bytes where the header says", async () => {
  await using folder = await tempStore();
  const store = countingStore(folder);
  const writer = new PackWriter(store, { targetBytes: 16 << 20 });
  const blobs = Array.from({ length: 3000 }, (_, n) => randomBytes(1024 + (n * 7919) % 31744));
  const total = blobs.reduce((sum, blob) => sum + blob.length, 0);
  let written = 0;
  for (const [n, blob] of blobs.entries()) {
    const bytes = blob.slice();
    await writer.add(id(n), { stored: bytes, compression: "none" }, bytes.length, () => written++);
    // Told written before the add resolved: the caller may reuse its buffer at once.
    assert.equal(written, n + 1);
    bytes.fill(0xee);
  }
  const packs = await writer.finish();
  assert.ok(packs.length >= 3, `${total} bytes cut at 16 MiB: ${packs.length} packs`);
  // One per blob before (3,000 and a tail per pack); gathered: one per 256 KiB less what a blob
  // that does not fit leaves empty (32 KiB at most), and the tails.
  const most = Math.ceil(total / (224 << 10)) + 2 * packs.length;
  assert.ok(store.writes <= most, `${store.writes} writes for ${total} bytes, over ${most}`);
  await assertPacksHold(folder, packs, blobs);
});

Deno.test("small and large blobs mixed: written in order, the large ones from their own bytes", async () => {
  await using folder = await tempStore();
  const store = countingStore(folder);
  const writer = new PackWriter(store, { targetBytes: 1 << 20 });
  const sizes = [10, 300 << 10, 20, 5 << 10, 64 << 10, (64 << 10) + 1, 1, 0, 700 << 10, 3];
  const blobs = sizes.map((size) => randomBytes(size));
  const done: number[] = [];
  for (const [n, blob] of blobs.entries()) {
    await writer.add(id(n), { stored: blob, compression: "none" }, blob.length, () => done.push(n));
  }
  const packs = await writer.finish();
  assert.deepEqual(done.toSorted((a, b) => a - b), sizes.map((_, n) => n), "each told once");
  assert.equal(packs.length, 2, "cut once 1 MiB is reached");
  await assertPacksHold(folder, packs, blobs);
});

Deno.test("a write of gathered blobs that fails: the next add or finish throws it, abort removes the packs", async () => {
  await using folder = await tempStore();
  const store = countingStore(folder, 2);
  const writer = new PackWriter(store, { targetBytes: 16 << 20 });
  let thrown: unknown;
  try {
    for (let n = 0; n < 200; n++) {
      await writer.add(id(n), { stored: randomBytes(8 << 10), compression: "none" }, 8 << 10);
    }
    await writer.finish();
  } catch (error) {
    thrown = error;
  }
  assert.match(String(thrown), /the disk is full/);
  await writer.abort();
  const names: string[] = [];
  for await (const { name } of folder.list("")) names.push(name);
  assert.deepEqual(names, [], "nothing left in the store");
});
