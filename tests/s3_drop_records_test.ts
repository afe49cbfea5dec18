/**
 * Drop records (`r/USER/RAND`, repair on S3) in a server's snapshot cache (`storage/s3/dedup_cache.ts`,
 * option `drops`): a record not read yet costs one GET and forgets only the entries at its places
 * (never every index object of the user read again), a dropped place is never looked up, and the
 * records garbage collection deleted leave memory. Against a `FolderStore` in a temp folder whose
 * GETs are counted.
 */
import assert from "node:assert/strict";
import type { ObjectBody, ObjectInfo, ObjectStore } from "../objects/object_store.ts";
import { FolderStore } from "../objects/folder_store.ts";
import { DedupCache } from "../storage/s3/dedup_cache.ts";
import {
  type ChunkTable,
  ChunkTableBuilder,
  encodeChunkTable,
  sortedById,
} from "../storage/s3/chunk_list.ts";
import { indexFolder } from "../storage/s3/keys.ts";
import { BLOB_INDEX_TAG } from "../storage/s3/snapshot_objects.ts";
import { dropsFolder } from "../storage/s3/snapshot_drops.ts";
import { randomId } from "../storage/s3/gc_objects.ts";
import { toHex } from "../common/hex.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const USER = 7;
const BLOB = 100;

/** A `FolderStore` whose GETs are counted by folder (`x/`, `r/`). */
class CountingStore implements ObjectStore {
  readonly gets = new Map<string, number>();
  constructor(readonly inner: FolderStore) {}
  put(name: string, body: ObjectBody) {
    return this.inner.put(name, body);
  }
  create(name: string) {
    return this.inner.create(name);
  }
  get(name: string) {
    const folder = name.slice(0, name.indexOf("/") + 1);
    this.gets.set(folder, (this.gets.get(folder) ?? 0) + 1);
    return this.inner.get(name);
  }
  stat(name: string) {
    return this.inner.stat(name);
  }
  list(prefix: string): AsyncIterable<ObjectInfo> {
    return this.inner.list(prefix);
  }
  delete(name: string) {
    return this.inner.delete(name);
  }
  /** GETs since the last call, by folder. */
  takeGets(): { index: number; drops: number } {
    const counts = { index: this.gets.get("x/") ?? 0, drops: this.gets.get("r/") ?? 0 };
    this.gets.clear();
    return counts;
  }
}

interface Place {
  id: Uint8Array;
  pack: string;
  offset: number;
}

function places(pack: string, count: number): Place[] {
  return Array.from({ length: count }, (_, i) => ({
    id: crypto.getRandomValues(new Uint8Array(32)),
    pack,
    offset: i * BLOB,
  }));
}

/** A table of `places`, sorted by id: a drop record's as decoded. */
function placesTable(of: readonly Place[]): ChunkTable {
  const builder = new ChunkTableBuilder();
  for (const { id, pack, offset } of of) {
    builder.add({ id, pack, offset, storedLength: BLOB, rawLength: BLOB, compression: "none" });
  }
  return sortedById(builder.table());
}

/** The BKIDX002 bytes of `places`: an index object's or a drop record's. */
function blobTable(of: readonly Place[]): Uint8Array {
  return encodeChunkTable("blobs", placesTable(of));
}

function indexName(tag: string): string {
  return `${indexFolder(USER)}${BLOB_INDEX_TAG}${tag}.1`;
}

async function withCache(
  test: (store: CountingStore, cache: DedupCache) => Promise<void>,
  budgetBytes?: number,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "drop-records-" });
  try {
    const store = new CountingStore(await FolderStore.open({ root }));
    const cache = new DedupCache({
      store,
      indexes: "blobs",
      drops: true,
      budgetBytes,
      onError: (error) => {
        throw error;
      },
    });
    await test(store, cache);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

/** Writes a drop record of `of` and returns its name. */
async function putRecord(store: ObjectStore, of: readonly Place[]): Promise<string> {
  const name = `${dropsFolder(USER)}${randomId()}`;
  await store.put(name, blobTable(of));
  return name;
}

function assertAt(cache: DedupCache, place: Place): void {
  const found = cache.lookup(USER, place.id);
  assert.deepEqual(found && { pack: found.pack, offset: found.offset }, {
    pack: place.pack,
    offset: place.offset,
  });
}

function droppedHex(cache: DedupCache): string[] {
  return cache.droppedIds(USER).map((id) => toHex(id)).sort();
}

Deno.test("a new drop record costs one GET, not a reload of the user's index objects", async () => {
  await withCache(async (store, cache) => {
    const objects = Array.from({ length: 20 }, (_, i) => places(`s${i}.1`, 50));
    for (const [i, of] of objects.entries()) await store.put(indexName(`s${i}`), blobTable(of));
    await cache.refreshDrops(USER);
    assert.deepEqual(store.takeGets(), { index: 20, drops: 0 });
    const dropped: Place[] = [];
    for (let r = 0; r < 4; r++) {
      const of = objects[r].slice(0, 10);
      dropped.push(...of);
      await putRecord(store, of);
      await cache.refreshDrops(USER); // each session's first call and each commit
      assert.deepEqual(store.takeGets(), { index: 0, drops: 1 }, `record ${r}`);
    }
    for (const place of dropped) assert.equal(cache.lookup(USER, place.id), undefined);
    for (const of of objects) assertAt(cache, of[of.length - 1]);
    assert.deepEqual(droppedHex(cache), dropped.map((place) => toHex(place.id)).sort());
    await cache.refreshDrops(USER);
    assert.deepEqual(store.takeGets(), { index: 0, drops: 0 }, "a record is read once");
  });
});

Deno.test("a dropped place is never looked up, and a good copy indexed later is found", async () => {
  await withCache(async (store, cache) => {
    const [bad] = places("a.1", 1);
    const other = { ...bad, pack: "b.1" };
    await store.put(indexName("a"), blobTable([bad]));
    await cache.refreshDrops(USER);
    await store.put(indexName("b"), blobTable([other]));
    await cache.refresh(USER, 0);
    assertAt(cache, bad); // the first place merged is kept
    await putRecord(store, [bad]);
    await cache.refreshDrops(USER);
    // Its kept place dropped, the id leaves the cache (the client sends it again: a dedup miss).
    assert.equal(cache.lookup(USER, bad.id), undefined);
    assert.deepEqual(droppedHex(cache), [toHex(bad.id)]);
    // Read later: an index object naming the dropped place again, and one with a good copy.
    const good = { ...bad, pack: "c.1", offset: 3 * BLOB };
    await store.put(indexName("d"), blobTable([bad]));
    await store.put(indexName("c"), blobTable([good]));
    await cache.refresh(USER, 0);
    assertAt(cache, good);
    // Another server, reading everything at once, finds a good place too.
    const fresh = new DedupCache({ store, indexes: "blobs", drops: true });
    await fresh.refreshDrops(USER);
    const found = fresh.lookup(USER, bad.id);
    assert.ok(found && found.pack !== "a.1", `found at ${found?.pack}`);
  });
});

Deno.test("a record this server stored applies at once and is not read back", async () => {
  await withCache(async (store, cache) => {
    const of = places("a.1", 8);
    await store.put(indexName("a"), blobTable(of));
    await cache.refreshDrops(USER);
    store.takeGets();
    const table = placesTable(of.slice(0, 3));
    const name = `${dropsFolder(USER)}${randomId()}`;
    await store.put(name, encodeChunkTable("blobs", table));
    cache.addDrops(USER, name, table);
    assert.deepEqual(store.takeGets(), { index: 0, drops: 0 });
    for (const place of of.slice(0, 3)) assert.equal(cache.lookup(USER, place.id), undefined);
    assertAt(cache, of[3]);
    await cache.refreshDrops(USER);
    assert.deepEqual(store.takeGets(), { index: 0, drops: 0 }, "listed, it is not read back");
    // A record not listed yet (a listing may lag its PUT) is held through a listing without it.
    const late = of.slice(4, 5);
    cache.addDrops(USER, `${dropsFolder(USER)}${randomId()}`, placesTable(late));
    await cache.refreshDrops(USER);
    assert.equal(cache.lookup(USER, late[0].id), undefined);
    assert.ok(droppedHex(cache).includes(toHex(late[0].id)));
  });
});

Deno.test("records garbage collection deleted are forgotten, and their memory with them", async () => {
  await withCache(async (store, cache) => {
    for (let i = 0; i < 4; i++) {
      await store.put(indexName(`s${i}`), blobTable(places(`s${i}.1`, 500)));
    }
    await cache.refreshDrops(USER);
    const before = cache.bytes;
    const names: string[] = [];
    for (let r = 0; r < 4; r++) names.push(await putRecord(store, places(`g${r}.1`, 2048)));
    await cache.refreshDrops(USER);
    assert.equal(cache.droppedIds(USER).length, 4 * 2048);
    assert.ok(cache.bytes > before + 4 * 2048 * 100, `${cache.bytes} bytes`);
    await store.delete(names[0]);
    await cache.refreshDrops(USER);
    assert.equal(cache.droppedIds(USER).length, 3 * 2048);
    for (const name of names.slice(1)) await store.delete(name);
    await cache.refreshDrops(USER);
    assert.deepEqual(cache.droppedIds(USER), []);
    assert.equal(cache.bytes, before);
  });
});

Deno.test("dropped places count against the cache's budget", async () => {
  const budget = 1024 * 1024;
  await withCache(async (store, cache) => {
    // Places of packs no index names: only the records take memory.
    for (let r = 0; r < 4; r++) await putRecord(store, places(`g${r}.1`, 2048));
    await cache.refreshDrops(USER);
    assert.ok(cache.bytes > budget, `${cache.bytes} bytes`); // the user in use stays whole
    await cache.refreshDrops(USER + 1);
    assert.ok(cache.bytes <= budget, `${cache.bytes} bytes`);
    assert.deepEqual(cache.droppedIds(USER), []);
  }, budget);
});
