/**
 * The per-server dedup cache (`storage/s3/dedup_cache.ts`) over an object store in memory: index
 * objects are read once each, listed again only after the refresh interval (an injected clock), a
 * million chunks take at most 50 MB, and users past the budget are dropped least recently used.
 */
import assert from "node:assert/strict";
import { DedupCache } from "../storage/s3/dedup_cache.ts";
import { CHUNK_ENTRY_BYTES, encodeChunkTable } from "../storage/s3/chunk_list.ts";
import type { ObjectInfo, ObjectStore } from "../objects/object_store.ts";

import { idAt, indexOf } from "./_chunk_tables.ts";

Deno.test.sanitizer({ ops: true, resources: true });

/** Only what the cache uses: list and get, counted. */
function memoryStore(objects: Map<string, Uint8Array>) {
  const calls = { list: 0, get: 0 };
  const store = {
    list(prefix: string): AsyncIterable<ObjectInfo> {
      calls.list++;
      const names = [...objects.keys()].filter((name) => name.startsWith(prefix)).sort();
      return (async function* () {
        for (const name of names) yield { name, size: objects.get(name)!.length };
      })();
    },
    get(name: string) {
      calls.get++;
      return Promise.resolve(objects.get(name)!);
    },
  } as unknown as ObjectStore;
  return { store, calls };
}

Deno.test("index objects are read once; the listing is refreshed only after the interval", async () => {
  const objects = new Map<string, Uint8Array>();
  const first = indexOf(100, 1);
  objects.set("x/5/aaaa.1", encodeChunkTable("index", first));
  let now = 0;
  const { store, calls } = memoryStore(objects);
  const cache = new DedupCache({ store, refreshMs: 30_000, now: () => now });
  await cache.refresh(5);
  assert.deepEqual(calls, { list: 1, get: 1 });
  assert.equal(
    cache.lookup(5, idAt(first, 42))?.offset,
    first.entries[42 * CHUNK_ENTRY_BYTES + 36],
  );
  assert.equal(cache.lookup(6, idAt(first, 42)), undefined, "never another user's");
  const second = indexOf(50, 2, "fedcba9876543210.3");
  objects.set("x/5/bbbb.1", encodeChunkTable("index", second));
  now = 29_999;
  await cache.refresh(5);
  assert.equal(cache.lookup(5, idAt(second, 7)), undefined, "not listed again within 30 s");
  now = 30_000;
  await cache.refresh(5);
  assert.deepEqual(calls, { list: 2, get: 2 }, "the new object only");
  assert.equal(cache.lookup(5, idAt(second, 7))?.pack, "fedcba9876543210.3");
  assert.equal(cache.lookup(5, idAt(first, 99))?.pack, "0123456789abcdef.1");
  // A damaged index object is passed over and reported: it only held hints.
  const errors: unknown[] = [];
  const damaged = new DedupCache({ store, onError: (e) => errors.push(e) });
  objects.set("x/5/cccc.1", new Uint8Array(10));
  await damaged.refresh(5);
  assert.equal(errors.length, 1);
  assert.ok(damaged.lookup(5, idAt(second, 7)));
});

Deno.test("a million chunks take at most 50 MB and are found by binary search", async () => {
  const objects = new Map<string, Uint8Array>();
  const tables = [0, 1, 2, 3].map((seed) => indexOf(250_000, seed));
  tables.forEach((table, i) => objects.set(`x/1/s${i}.1`, encodeChunkTable("index", table)));
  const cache = new DedupCache({ store: memoryStore(objects).store, budgetBytes: 1 << 30 });
  await cache.refresh(1);
  objects.clear();
  assert.ok(cache.bytes <= 50_000_000, `${cache.bytes} bytes`);
  for (const table of tables) {
    for (const i of [0, 1, 124_999, 249_999]) assert.ok(cache.lookup(1, idAt(table, i)));
  }
});

Deno.test("past the budget, the least recently used users are dropped; added chunks are found", async () => {
  const objects = new Map<string, Uint8Array>();
  for (const user of [1, 2, 3]) {
    objects.set(`x/${user}/s.1`, encodeChunkTable("index", indexOf(10_000, user)));
  }
  const cache = new DedupCache({ store: memoryStore(objects).store, budgetBytes: 1_000_000 });
  await cache.refresh(1);
  await cache.refresh(2);
  assert.ok(cache.lookup(1, idAt(indexOf(10_000, 1), 5)));
  await cache.refresh(3); // 3 x 480 KB > 1 MB: user 2 is the least recently used (1 was looked up)
  assert.ok(cache.bytes <= 1_000_000);
  assert.equal(cache.lookup(2, idAt(indexOf(10_000, 2), 5)), undefined);
  // Chunks this server stored are found at once, before and after they are merged.
  const added = indexOf(5000, 9);
  cache.add(3, added, ["x/3/mine.1"]);
  assert.ok(cache.lookup(3, idAt(added, 4999)));
  assert.ok(cache.lookup(3, idAt(indexOf(10_000, 3), 5)));
});

Deno.test("an id in a leaving pack takes a place read later, in whichever order, and after a reload", async () => {
  const objects = new Map<string, Uint8Array>();
  const old = indexOf(20, 7, "0000000000000000.1");
  const copy = indexOf(20, 7, "1111111111111111.1"); // the same ids, copied by a repack
  const doomed = new Set<string>();
  const { store } = memoryStore(objects);
  let now = 0;
  const cache = new DedupCache({
    store,
    now: () => now,
    isLeaving: (pack) => doomed.has(pack),
  });
  // Read before the copy exists: the old place. Its pack stays readable while doomed.
  objects.set("x/5/aaaa.1", encodeChunkTable("index", old));
  await cache.refresh(5);
  assert.equal(cache.lookup(5, idAt(old, 3))?.pack, "0000000000000000.1");
  // The copy is read once written, before the doom is seen: the known place stays.
  objects.set("x/5/bbbb.1", encodeChunkTable("index", copy));
  now += 60_000;
  await cache.refresh(5);
  assert.equal(cache.lookup(5, idAt(old, 3))?.pack, "0000000000000000.1");
  // Doomed: the user is read again, and the copy's place is taken whatever the order of reads.
  doomed.add("p/5/0000000000000000.1");
  cache.reloadUsersIn(["p/5/0000000000000000.1", "p/6/0000000000000000.1"]);
  await cache.refresh(5);
  for (let i = 0; i < 20; i++) {
    assert.equal(cache.lookup(5, idAt(old, i))?.pack, "1111111111111111.1", `entry ${i}`);
  }
  // Without a copy, a leaving place is still found (reads need it).
  const alone = indexOf(3, 8, "0000000000000000.1");
  objects.set("x/5/cccc.1", encodeChunkTable("index", alone));
  now += 60_000;
  await cache.refresh(5);
  assert.equal(cache.lookup(5, idAt(alone, 1))?.pack, "0000000000000000.1");
  // A user with nothing in the packs doomed is not read again.
  cache.reloadUsersIn(["p/5/2222222222222222.1"]);
  assert.equal(cache.lookup(5, idAt(alone, 1))?.pack, "0000000000000000.1");
});
