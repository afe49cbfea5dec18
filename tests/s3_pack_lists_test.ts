/**
 * The S3 snapshot store's lists of a user's packs (`PackLists`), over an object store in memory
 * that counts its LISTs and can run something inside one: one LIST per view refresh, none while the
 * view is the one a list was begun under; a pack is answered present only from a list begun under
 * the view installed now, so a view refresh installed during a LIST makes it list once more.
 */
import assert from "node:assert/strict";
import { PackLists } from "../storage/s3/pack_lists.ts";
import type { ObjectInfo, ObjectStore } from "../objects/object_store.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const P1 = "p/5/0000000000000000.1";
const P2 = "p/5/1111111111111111.1";

/** LISTs over `names`, counted; `during` (once set) runs inside each LIST before it answers. */
function countingStore(names: Set<string>) {
  const counts = { lists: 0 };
  let during: (() => void) | undefined;
  const store = {
    list(prefix: string): AsyncIterable<ObjectInfo> {
      counts.lists++;
      const listed = [...names].filter((name) => name.startsWith(prefix));
      during?.();
      return (async function* () {
        for (const name of listed) yield { name, size: 1 };
      })();
    },
  } as unknown as ObjectStore;
  return { store, counts, duringList: (work?: () => void) => during = work };
}

Deno.test("a user's packs are listed once per view refresh, and answered from that list", async () => {
  const names = new Set([P1]);
  const { store, counts } = countingStore(names);
  const view = { generation: 1 };
  const lists = new PackLists(store, view);
  assert.equal(lists.has(5, P1), false, "never listed");
  await lists.refresh(5);
  await lists.refresh(5);
  assert.equal(counts.lists, 1, "one LIST while the view stays");
  assert.equal(lists.has(5, P1), true);
  names.add(P2);
  lists.add(5, P2);
  assert.equal(lists.has(5, P2), true, "a pack this server wrote");
  view.generation++;
  assert.equal(lists.has(5, P1), false, "a list begun under an older view answers nothing");
  await lists.refresh(5);
  assert.equal(counts.lists, 2, "one LIST after the refresh");
  assert.equal(lists.has(5, P1), true);
});

Deno.test("a view refresh installed during the LIST makes it list once more, a second no more", async () => {
  const names = new Set([P1]);
  const { store, counts, duringList } = countingStore(names);
  const view = { generation: 1 };
  const lists = new PackLists(store, view);
  // Garbage collection deletes P1 after the first LIST answered, and the view moves on.
  duringList(() => {
    duringList(undefined);
    names.delete(P1);
    view.generation++;
  });
  await lists.refresh(5);
  assert.equal(counts.lists, 2);
  assert.equal(lists.has(5, P1), false, "listed again under the view installed now");
  // A view refresh, and one more during each LIST.
  view.generation++;
  duringList(() => view.generation++);
  await lists.refresh(5);
  assert.equal(counts.lists, 4, "two LISTs at most per refresh");
  names.add(P1);
  assert.equal(lists.has(5, P1), false, "no list begun under this view: nothing answered");
});
