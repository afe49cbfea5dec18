/**
 * Packs kept open for a connection's blob reads (`storage/embedded/pack_readers.ts`) and the
 * folder store's readers under them (`FolderStore.openReader`): the same checks as `get` (a link
 * in a pack's place refused, never followed), one open per pack however many blobs are read from
 * it, a bounded count of packs held, and every handle closed by the reader's close or the store's.
 */
import assert from "node:assert/strict";
import { FolderStore } from "../objects/folder_store.ts";
import {
  ObjectNotFoundError,
  type ObjectReader,
  type ObjectStore,
  UnsafeObjectError,
} from "../objects/object_store.ts";
import { PackReaders } from "../storage/embedded/pack_readers.ts";
import type { SnapshotRepository } from "../storage/snapshots.ts";
import { KiB, openTempStorage } from "./_repository.ts";
import { dataBlob, noise, sameBytes, snapshotOf, treeBlob } from "./_snapshots.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const bytes = (text: string) => new TextEncoder().encode(text);

async function withStore(work: (store: FolderStore) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "pack-readers-test-" });
  try {
    await work(await FolderStore.open({ root }));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

/** A store that counts its opens and gets. */
function counted(store: FolderStore) {
  const counts = { opens: 0, gets: 0 };
  const wrapped: ObjectStore = Object.assign(Object.create(store), {
    get: (name: string, range?: { offset: number; length: number }) => {
      counts.gets++;
      return store.get(name, range);
    },
    openReader: (name: string): Promise<ObjectReader> => {
      counts.opens++;
      return store.openReader(name);
    },
  });
  return { store: wrapped, counts };
}

Deno.test("folder reader: reads ranges of the file opened, through overwrites and deletes, until closed", async () => {
  await withStore(async (store) => {
    await store.put("packs/ab/one", bytes("0123456789"));
    const reader = await store.openReader("packs/ab/one");
    assert.equal(reader.size, 10);
    const target = new Uint8Array(4);
    assert.equal(reader.readSync(3, target), 4);
    assert.deepEqual(target, bytes("3456"));
    assert.equal(reader.readSync(8, target), 2, "short at the end");
    assert.equal(reader.readSync(20, target), 0, "past the end: nothing");
    await store.put("packs/ab/one", bytes("abcdefghij"));
    await store.delete("packs/ab/one");
    assert.equal(reader.readSync(0, target), 4, "the file opened, whatever came after");
    assert.deepEqual(target, bytes("0123"));
    reader.close();
    reader.close();
    assert.throws(() => reader.readSync(0, target), /closed/);
  });
});

Deno.test("folder reader: a link in an object's place or its folder's is refused, not followed", async () => {
  await withStore(async (store) => {
    const outside = await Deno.makeTempDir({ prefix: "pack-readers-outside-" });
    try {
      await Deno.writeTextFile(`${outside}/secret`, "not the store's");
      await store.put("packs/ab/real", bytes("x"));
      await Deno.symlink(`${outside}/secret`, `${store.root}/packs/ab/link`);
      await Deno.symlink(outside, `${store.root}/packs/cd`);
      await assert.rejects(store.openReader("packs/ab/link"), UnsafeObjectError);
      await assert.rejects(store.openReader("packs/cd/secret"), UnsafeObjectError);
      await assert.rejects(store.openReader("packs/ab/none"), ObjectNotFoundError);
    } finally {
      await Deno.remove(outside, { recursive: true });
    }
  });
});

Deno.test("pack readers: 200 blobs of a pack cost one open and no get; a link planted later is never read", async () => {
  await withStore(async (store) => {
    const pack = noise(1, 200 * KiB);
    await store.put("packs/ab/pack", pack);
    const { store: countedStore, counts } = counted(store);
    const packs = new PackReaders(countedStore);
    const reads = [];
    for (let i = 0; i < 200; i++) reads.push(packs.read("packs/ab/pack", i * KiB, KiB));
    for (const [i, read] of (await Promise.all(reads)).entries()) {
      assert.ok(sameBytes(read, pack.subarray(i * KiB, (i + 1) * KiB)), `blob ${i}`);
    }
    assert.deepEqual(counts, { opens: 1, gets: 0 });

    // A link put in place of a pack not yet open: refused by the open's checks.
    const outside = await Deno.makeTempFile();
    try {
      await Deno.symlink(outside, `${store.root}/packs/ab/planted`);
      await assert.rejects(packs.read("packs/ab/planted", 0, 10), UnsafeObjectError);
      await assert.rejects(packs.read("packs/ab/planted", 0, 10), UnsafeObjectError, "not kept");
    } finally {
      await Deno.remove(outside);
    }
    packs.close();
    const after = await packs.read("packs/ab/pack", 0, 10);
    assert.ok(sameBytes(after, pack.subarray(0, 10)), "after the close: read with get");
    assert.equal(counts.gets, 1);
  });
});

Deno.test("pack readers: 40 packs read in turn keep 16 open at most, each opened again only once evicted", async () => {
  await withStore(async (store) => {
    for (let i = 0; i < 40; i++) await store.put(`packs/ab/p${i}`, noise(i, 4 * KiB));
    const { store: countedStore, counts } = counted(store);
    const packs = new PackReaders(countedStore);
    for (let i = 0; i < 16; i++) await packs.read(`packs/ab/p${i}`, 0, 10);
    for (let i = 0; i < 16; i++) await packs.read(`packs/ab/p${i}`, 10, 10);
    assert.equal(counts.opens, 16, "16 kept open");
    for (let i = 16; i < 40; i++) {
      const read = await packs.read(`packs/ab/p${i}`, KiB, KiB);
      assert.ok(sameBytes(read, noise(i, 4 * KiB).subarray(KiB, 2 * KiB)));
    }
    assert.equal(counts.opens, 40);
    await packs.read("packs/ab/p0", 0, 10);
    assert.equal(counts.opens, 41, "evicted: opened again");
    packs.close(); // the resource sanitizer checks every handle is closed
  });
});

async function storedSnapshotOfBlobs(snapshots: SnapshotRepository, count: number) {
  const blobs = Array.from({ length: count }, (_, i) => dataBlob(noise(100 + i, 10 * KiB)));
  const session = snapshots.openSession(1);
  for (const blob of blobs) await session.put(blob);
  const tree = treeBlob(blobs.map((blob) => blob.id));
  await session.put(tree);
  assert.deepEqual(await session.commit(snapshotOf(tree)), { missing: [] });
  await session.close();
  return blobs;
}

Deno.test("blob reader: reads what readBlob reads over more packs than it keeps; closed by itself or the store", async () => {
  await using t = await openTempStorage({ packTargetBytes: 30 * KiB });
  const snapshots = t.storage.snapshots;
  const blobs = await storedSnapshotOfBlobs(snapshots, 60); // about 20 packs
  const reader = snapshots.blobReader!(1);
  for (let round = 0; round < 2; round++) {
    await Promise.all(blobs.map(async (blob) => {
      const read = await reader.read(blob.id);
      const plain = await snapshots.readBlob(1, blob.id);
      assert.deepEqual({ ...read, bytes: undefined }, { ...plain, bytes: undefined });
      assert.ok(sameBytes(read.bytes, plain.bytes));
      assert.ok(sameBytes(read.bytes, blob.bytes));
    }));
  }
  reader.close();
  assert.ok(sameBytes((await reader.read(blobs[0].id)).bytes, blobs[0].bytes), "after its close");
  const left = snapshots.blobReader!(1);
  await left.read(blobs[1].id);
  // left open: the storage's close closes it (the resource sanitizer checks)
});
