/**
 * `find` over many snapshots (client/snapshot/snapshot_find.ts): a subtree searched without a
 * match is not searched again at the same path in a later snapshot; matches are listed for each.
 */
import assert from "node:assert/strict";
import { findInSnapshots, findMatcher } from "../client/snapshot/snapshot_find.ts";
import type { SnapshotInfo } from "../client/snapshot/snapshot_select.ts";
import type { SnapshotRecord } from "../protocol/v3/snapshot.ts";
import type { BlobId } from "../client/snapshot/blobs.ts";
import { TreeBuilder } from "./_tree_builder.ts";
import { EMPTY_SUMMARY } from "./_snapshots.ts";

Deno.test.sanitizer({ ops: true, resources: true });

function snapshot(id: string, tree: BlobId): SnapshotInfo {
  const record: SnapshotRecord = {
    tree,
    paths: ["/home/u"],
    host: "a",
    user: "u",
    tags: [],
    timeMs: 1,
    summary: EMPTY_SUMMARY,
  };
  return { id: id.padEnd(64, "0"), storedMs: 1, record };
}

Deno.test("find reads a subtree searched without a match once; matches are listed per snapshot", async () => {
  const b = new TreeBuilder();
  // A large folder with nothing to find, the same in both snapshots; one changed file.
  const bulk = Array.from(
    { length: 20 },
    (_, i) =>
      b.dir(`d${i}`, [b.file("x.bin", [`${i}`]), b.dir("deep", [b.file("y.bin", [`y${i}`])])]),
  );
  const first = b.tree([b.dir("bulk", bulk), b.file("notes.txt", ["one"])]);
  const second = b.tree([b.dir("bulk", bulk), b.file("notes.txt", ["two"])]);
  // The same folder at another path: searched there (a path pattern may match there).
  const third = b.tree([b.dir("moved", bulk)]);
  const snapshots = [snapshot("a1", first), snapshot("a2", second), snapshot("a3", third)];

  const found = async (pattern: string) => {
    const hits: string[] = [];
    const before = b.blobs.counts.gets;
    for await (const hit of findInSnapshots(b.blobs, snapshots, findMatcher(pattern))) {
      hits.push(`${hit.snapshot.id.slice(0, 2)} ${hit.path}`);
    }
    return { hits, gets: b.blobs.counts.gets - before };
  };
  const trees = 1 + 1 + 20 * 2; // a root, bulk, and two trees per d<i>
  const names = await found("*.txt");
  assert.deepEqual(names.hits, ["a1 /notes.txt", "a2 /notes.txt"]);
  // The second snapshot reads its root only; the third all of its own (another path).
  assert.equal(names.gets, trees + 1 + trees);

  // A match inside the shared folder is listed for every snapshot that has it.
  const deep = await found("d3/deep/y.bin");
  assert.deepEqual(deep.hits, [
    "a1 /bulk/d3/deep/y.bin",
    "a2 /bulk/d3/deep/y.bin",
    "a3 /moved/d3/deep/y.bin",
  ]);
  // bulk and d3/deep are read in each; the other d<i> (barren) only in the first at each path.
  assert.ok(deep.gets < 3 * trees, `${deep.gets} gets`);
});
