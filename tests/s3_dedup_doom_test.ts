/**
 * The dedup cache under garbage collection (rule W1 of docs/s3_repository_plan.md §3.2): a doomed
 * pack's chunks are dropped at once (the sorted array and the recent ones), an index object read
 * later that still names a doomed pack is merged without its entries, and other users and packs
 * are untouched.
 */
import assert from "node:assert/strict";
import { DedupCache } from "../storage/s3/dedup_cache.ts";
import { CHUNK_ENTRY_BYTES, encodeChunkTable } from "../storage/s3/chunk_list.ts";
import type { ObjectInfo, ObjectStore } from "../objects/object_store.ts";

import { idAt, indexOf } from "./_chunk_tables.ts";

Deno.test.sanitizer({ ops: true, resources: true });

function memoryStore(objects: Map<string, Uint8Array>): ObjectStore {
  return {
    list(prefix: string): AsyncIterable<ObjectInfo> {
      const names = [...objects.keys()].filter((name) => name.startsWith(prefix)).sort();
      return (async function* () {
        for (const name of names) yield { name, size: objects.get(name)!.length };
      })();
    },
    get: (name: string) => Promise.resolve(objects.get(name)!),
  } as unknown as ObjectStore;
}

const A = "aaaaaaaaaaaaaaaa.1";
const B = "bbbbbbbbbbbbbbbb.1";

Deno.test("a doomed pack's chunks are dropped, merged ones and recent ones alike", async () => {
  const objects = new Map<string, Uint8Array>();
  const indexed = indexOf(40, 1, [A, B]);
  objects.set("x/5/s.1", encodeChunkTable("index", indexed));
  const cache = new DedupCache({ store: memoryStore(objects) });
  await cache.refresh(5);
  await cache.refresh(6);
  const recent = indexOf(10, 2, [A, B]);
  cache.add(5, recent);
  cache.add(6, indexOf(10, 3, [A]));

  cache.dropPacks([`p/5/${A}`, "p/9/none.1", "not a pack"]);
  for (const table of [indexed, recent]) {
    for (let i = 0; i < table.count; i++) {
      const found = cache.lookup(5, idAt(table, i));
      const pack = table.packs[
        new DataView(table.entries.buffer).getUint32(
          i * CHUNK_ENTRY_BYTES + 32,
          true,
        )
      ];
      if (pack === A) assert.equal(found, undefined, `chunk ${i} of ${A} dropped`);
      else assert.equal(found?.pack, B, `chunk ${i} of ${B} kept`);
    }
  }
  assert.ok(cache.lookup(6, idAt(indexOf(10, 3, [A]), 0)), "another user's pack of that name");
});

Deno.test("an index object read after a tombstone is merged without the doomed pack", async () => {
  const objects = new Map<string, Uint8Array>();
  const table = indexOf(30, 4, [A, B]);
  objects.set("x/5/s.1", encodeChunkTable("index", table));
  const doomed = new Set([`p/5/${A}`]);
  const cache = new DedupCache({ store: memoryStore(objects), isDoomed: (p) => doomed.has(p) });
  await cache.refresh(5);
  let kept = 0;
  for (let i = 0; i < table.count; i++) {
    const found = cache.lookup(5, idAt(table, i));
    assert.notEqual(found?.pack, A);
    if (found) kept++;
  }
  assert.equal(kept, 15, "every chunk of the other pack");
});
