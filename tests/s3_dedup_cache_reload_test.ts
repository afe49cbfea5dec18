/**
 * The dedup cache's reload after a doom (`DedupCache.reloadUsersIn`), over an object store in
 * memory whose GETs can be held: the user's entries answer until the reload is read and swapped
 * in, what is added meanwhile is kept, and a doom read during the reload makes the next refresh
 * reload again. A reload asked for at a pack a read found gone (`DedupCache.reloadUser`) waits for
 * the refresh under way and reads the user anew, the user's other entries answering meanwhile.
 */
import assert from "node:assert/strict";
import { DedupCache } from "../storage/s3/dedup_cache.ts";
import { type ChunkTable, encodeChunkTable } from "../storage/s3/chunk_list.ts";
import type { ObjectInfo, ObjectStore } from "../objects/object_store.ts";

import { idAt, indexOf } from "./_chunk_tables.ts";

Deno.test.sanitizer({ ops: true, resources: true });

/** List and get over `objects`; `hold(name)` holds the next GET of `name` until released. */
function heldStore(objects: Map<string, Uint8Array>) {
  const holds = new Map<string, { held: () => void; release: Promise<void> }>();
  const store = {
    list(prefix: string): AsyncIterable<ObjectInfo> {
      const names = [...objects.keys()].filter((name) => name.startsWith(prefix)).sort();
      return (async function* () {
        for (const name of names) yield { name, size: objects.get(name)!.length };
      })();
    },
    async get(name: string) {
      const hold = holds.get(name);
      holds.delete(name);
      if (hold) {
        hold.held();
        await hold.release;
      }
      return objects.get(name)!;
    },
  } as unknown as ObjectStore;
  /** Resolves, with its release, once the next GET of `name` is held. */
  const hold = (name: string) =>
    new Promise<() => void>((held) => {
      const release = Promise.withResolvers<void>();
      holds.set(name, { held: () => held(release.resolve), release: release.promise });
    });
  return { store, hold };
}

/** The pack each entry of `table` is found in now (none: not found). */
const packsOf = (cache: DedupCache, table: ChunkTable) =>
  Array.from({ length: table.count }, (_, i) => cache.lookup(5, idAt(table, i))?.pack);

const OLD = "0000000000000000.1";
const COPY = "1111111111111111.1";
const OTHER = "2222222222222222.1";

/** A cache of user 5 over the store, its packs leaving once in `doomed`, and a clock. */
function cacheOver(store: ObjectStore, doomed: Set<string>) {
  const clock = { now: 0 };
  const cache = new DedupCache({
    store,
    now: () => clock.now,
    isLeaving: (pack) => doomed.has(pack),
  });
  return { cache, clock };
}

Deno.test("after a doom, a user's entries answer until the reload is read, then the copies do", async () => {
  const objects = new Map<string, Uint8Array>();
  const old = indexOf(20, 7, OLD);
  const other = indexOf(10, 8, OTHER);
  objects.set("x/5/aaaa.1", encodeChunkTable("index", old));
  objects.set("x/5/cccc.1", encodeChunkTable("index", other));
  const doomed = new Set<string>();
  const { store, hold } = heldStore(objects);
  const { cache } = cacheOver(store, doomed);
  await cache.refresh(5);
  // A repack's copy, read before its old pack is doomed: the known place stays.
  objects.set("x/5/bbbb.1", encodeChunkTable("index", indexOf(20, 7, COPY)));
  await cache.refresh(5, 0);
  doomed.add(`p/5/${OLD}`);
  cache.reloadUsersIn([`p/5/${OLD}`]);
  assert.deepEqual(packsOf(cache, other), Array(10).fill(OTHER), "doomed: still found");
  assert.deepEqual(packsOf(cache, old), Array(20).fill(OLD), "held: still the old place");
  // The reload, held at one GET: the entries held still answer.
  const held = hold("x/5/cccc.1");
  const reload = cache.refresh(5);
  const release = await held;
  assert.deepEqual(packsOf(cache, other), Array(10).fill(OTHER), "during the reload");
  release();
  await reload;
  assert.deepEqual(packsOf(cache, old), Array(20).fill(COPY), "reloaded: the copy's place");
  assert.deepEqual(packsOf(cache, other), Array(10).fill(OTHER));
});

Deno.test("what is added during a reload is found once the reload is swapped in", async () => {
  const objects = new Map<string, Uint8Array>();
  objects.set("x/5/aaaa.1", encodeChunkTable("index", indexOf(20, 7, OLD)));
  const doomed = new Set<string>();
  const { store, hold } = heldStore(objects);
  const { cache } = cacheOver(store, doomed);
  await cache.refresh(5);
  cache.reloadUsersIn([`p/5/${OLD}`]);
  const held = hold("x/5/aaaa.1");
  const reload = cache.refresh(5);
  const release = await held;
  // Stored here meanwhile; its index object is not listed yet.
  const added = indexOf(5, 9, OTHER);
  cache.add(5, added, ["x/5/dddd.1"]);
  release();
  await reload;
  assert.deepEqual(packsOf(cache, added), Array(5).fill(OTHER));
});

Deno.test("a doom read during a reload makes the next refresh reload again", async () => {
  const objects = new Map<string, Uint8Array>();
  const old = indexOf(20, 7, OLD);
  objects.set("x/5/aaaa.1", encodeChunkTable("index", old));
  objects.set("x/5/cccc.1", encodeChunkTable("index", indexOf(10, 8, OTHER)));
  const doomed = new Set<string>();
  const { store, hold } = heldStore(objects);
  const { cache, clock } = cacheOver(store, doomed);
  await cache.refresh(5);
  objects.set("x/5/bbbb.1", encodeChunkTable("index", indexOf(20, 7, COPY)));
  // A doom of another pack: the reload reads the old place, then the copy (passed over: the old
  // pack is not leaving yet), and is held at the last object while the old pack is doomed.
  doomed.add(`p/5/${OTHER}`);
  cache.reloadUsersIn([`p/5/${OTHER}`]);
  const held = hold("x/5/cccc.1");
  const reload = cache.refresh(5);
  const release = await held;
  doomed.add(`p/5/${OLD}`);
  cache.reloadUsersIn([`p/5/${OLD}`]);
  release();
  await reload;
  assert.deepEqual(packsOf(cache, old), Array(20).fill(OLD), "the reload read before the doom");
  // Due again although the clock has not moved since the listing.
  assert.equal(clock.now, 0);
  await cache.refresh(5);
  assert.deepEqual(packsOf(cache, old), Array(20).fill(COPY), "reloaded again: the copy's place");
});

Deno.test("a reload asked for during a refresh follows it, the other entries answering", async () => {
  const objects = new Map<string, Uint8Array>();
  const old = indexOf(20, 7, OLD);
  const other = indexOf(10, 8, OTHER);
  objects.set("x/5/aaaa.1", encodeChunkTable("index", old));
  objects.set("x/5/cccc.1", encodeChunkTable("index", other));
  const gone = new Set<string>();
  const { store, hold } = heldStore(objects);
  const cache = new DedupCache({ store, now: () => 0, isDoomed: (pack) => gone.has(pack) });
  await cache.refresh(5);
  // A repack's copy, passed over (the old place is known), then a refresh held at a new object.
  objects.set("x/5/bbbb.1", encodeChunkTable("index", indexOf(20, 7, COPY)));
  await cache.refresh(5, 0);
  objects.set("x/5/dddd.1", encodeChunkTable("index", indexOf(5, 9, OTHER)));
  const held = hold("x/5/dddd.1");
  const refresh = cache.refresh(5, 0);
  const release = await held;
  // A read found the old pack gone: its entries go, the user is reloaded after the refresh.
  gone.add(`p/5/${OLD}`);
  cache.dropPacks([`p/5/${OLD}`]);
  const reload = cache.reloadUser(5);
  assert.deepEqual(packsOf(cache, other), Array(10).fill(OTHER), "during the refresh");
  assert.deepEqual(packsOf(cache, old), Array(20).fill(undefined), "the gone pack's entries");
  release();
  await refresh;
  await reload;
  assert.deepEqual(packsOf(cache, old), Array(20).fill(COPY), "reloaded: the copy's place");
  assert.deepEqual(packsOf(cache, other), Array(10).fill(OTHER));
});
