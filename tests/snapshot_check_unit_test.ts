/**
 * `checkSnapshots` over an in-memory session: each tree is read once across snapshots that share
 * it, each data blob asked about (and read) once; a bad blob is named in every file of every
 * snapshot that needs it, a bad tree by its folder; a full id set only repeats work; subsets
 * `1/t` … `t/t` read every blob exactly once.
 */
import assert from "node:assert/strict";
import { type CheckProblem, checkSnapshots } from "../client/snapshot/check.ts";
import { BoundedIdSet, subsetOf } from "../client/snapshot/check_ids.ts";
import { repairSnapshots } from "../client/snapshot/repair.ts";
import type { BlobId, BlobKind } from "../client/snapshot/blobs.ts";
import type { ListedEntry } from "../client/snapshot/snapshot_session.ts";
import { encodeSnapshot } from "../protocol/v3/snapshot.ts";
import { TreeBuilder } from "./_tree_builder.ts";
import { blobIdOf, MemoryBlobs } from "./_memory_blobs.ts";
import { EMPTY_SUMMARY } from "./_snapshots.ts";

Deno.test.sanitizer({ ops: true, resources: true });

/** A `MemoryBlobs` with snapshots, counting the gets of each id. */
class FakeSession extends MemoryBlobs {
  readonly records: Uint8Array[] = [];
  readonly gotten = new Map<BlobId, number>();

  snapshot(tree: BlobId, timeMs: number): string {
    const record = encodeSnapshot({
      timeMs,
      tree,
      paths: ["/src"],
      host: "h",
      user: "u",
      tags: [],
      summary: EMPTY_SUMMARY,
    });
    this.records.push(record);
    return blobIdOf(record);
  }

  async *listSnapshots(): AsyncGenerator<ListedEntry> {
    for (const record of this.records) yield { id: blobIdOf(record), storedMs: 0, record };
  }

  override get(id: BlobId, kind: BlobKind): Promise<Uint8Array> {
    this.gotten.set(id, (this.gotten.get(id) ?? 0) + 1);
    return super.get(id, kind);
  }
}

/** Two snapshots sharing the subtree `shared` (with `a.txt` and `deep/b.txt`); each has its own file. */
function twoSnapshots() {
  const session = new FakeSession();
  const t = new TreeBuilder(session);
  const deep = t.dir("deep", [t.file("b.txt", ["beta"])]);
  const shared = t.dir("shared", [t.file("a.txt", ["alpha", "common"]), deep]);
  const first = t.tree([shared, t.file("one.txt", ["one", "common"])]);
  const second = t.tree([shared, t.file("two.txt", ["two"])]);
  const ids = [session.snapshot(first, 1), session.snapshot(second, 2)];
  return { session, t, shared, deep: deep.subtree, first, second, ids };
}

Deno.test("every tree is read once across two snapshots that share a subtree; every blob asked once", async () => {
  const { session, shared } = twoSnapshots();
  const report = await checkSnapshots(session, {});
  assert.equal(report.errors, 0);
  assert.equal(report.snapshots, 2);
  assert.equal(report.trees, 4); // two roots, shared, deep
  assert.equal(report.blobs, 5); // alpha, common, beta, one, two: common once
  assert.equal(session.gotten.get(shared.subtree), 1);
  for (const [id, count] of session.gotten) assert.equal(count, 1, `${id} read ${count} times`);
  assert.equal(session.counts.idsAsked, 5);
  assert.equal(report.blobsRead, 0, "structure only: no data read");
});

Deno.test("--read-data reads every data blob once and names each file of each snapshot that needs a bad one", async () => {
  const { session, t, ids } = twoSnapshots();
  const common = t.chunk("common");
  session.lie = (id, blob) => id === common ? new TextEncoder().encode("c0mmon") : blob?.raw;
  const problems: CheckProblem[] = [];
  const structure = await checkSnapshots(session, { onProblem: (p) => problems.push(p) });
  assert.equal(structure.errors, 0, "the server has it: the structure is whole");

  session.gotten.clear();
  const report = await checkSnapshots(session, {
    readData: () => true,
    onProblem: (p) => problems.push(p),
  });
  assert.equal(report.errors, 1);
  assert.equal(report.blobsRead, 5 - 1);
  assert.equal(session.gotten.get(common), 1, "read once; naming reads trees only");
  assert.deepEqual(
    problems.map((p) => [p.snapshot.id, p.path, p.kind, p.blob]),
    [
      [ids[0], "/one.txt", "data", common],
      [ids[0], "/shared/a.txt", "data", common],
      [ids[1], "/shared/a.txt", "data", common],
    ],
  );
  assert.equal(report.problems, 3);
  assert.equal(report.damagedSnapshots, 2);
  assert.match(problems[0].reason, /do not match/);
});

Deno.test("a missing blob and a missing tree are named by structure alone: the file, and the folder", async () => {
  const { session, t, ids, deep } = twoSnapshots();
  session.blobs.delete(t.chunk("two"));
  session.blobs.delete(deep);
  const problems: CheckProblem[] = [];
  const report = await checkSnapshots(session, { onProblem: (p) => problems.push(p) });
  assert.equal(report.errors, 2);
  assert.deepEqual(
    problems.map((p) => [p.snapshot.id, p.path, p.kind]),
    [
      [ids[0], "/shared/deep", "tree"],
      [ids[1], "/shared/deep", "tree"],
      [ids[1], "/two.txt", "data"],
    ],
  );
  assert.equal(report.damagedSnapshots, 2);
});

Deno.test("with id sets of one id, the same results (trees read again, never missed)", async () => {
  const { session, t } = twoSnapshots();
  session.blobs.delete(t.chunk("beta"));
  const problems: string[] = [];
  const report = await checkSnapshots(session, {
    readData: () => true,
    maxTreeIds: 1,
    maxDataIds: 1,
    onProblem: (p) => problems.push(`${p.snapshot.record.timeMs} ${p.path}`),
  });
  assert.ok(report.seenFull);
  assert.equal(report.errors, 1);
  assert.deepEqual(problems, ["1 /shared/deep/b.txt", "2 /shared/deep/b.txt"]);
});

Deno.test("--read-data-subset 1/t … t/t read every blob exactly once; N% a share", async () => {
  const { session } = twoSnapshots();
  const all = await checkSnapshots(session, { readData: () => true });
  let read = 0;
  for (let n = 1; n <= 3; n++) {
    read += (await checkSnapshots(session, { readData: subsetOf(`${n}/3`) })).blobsRead;
  }
  assert.equal(read, all.blobsRead);
  const ids = Array.from({ length: 4000 }, (_, i) => blobIdOf(new Uint8Array([i, i >> 8])));
  const tenth = subsetOf("10%");
  const share = ids.filter(tenth).length / ids.length;
  assert.ok(share > 0.07 && share < 0.13, `${share}`);
  for (const bad of ["0/3", "4/3", "0%", "101%", "1/0", "x", "5"]) {
    assert.throws(() => subsetOf(bad), /read-data-subset/);
  }
});

Deno.test("BoundedIdSet holds what it was given up to its bound, through its growth", () => {
  const set = new BoundedIdSet(5000);
  const ids = Array.from({ length: 6000 }, (_, i) => blobIdOf(new Uint8Array([i, i >> 8])));
  for (const id of ids.slice(0, 5000)) assert.ok(set.add(id));
  for (const id of ids.slice(0, 5000)) assert.ok(!set.add(id) && set.has(id));
  assert.ok(!set.full);
  assert.ok(set.add(ids[5000]) && set.full && !set.has(ids[5000]));
  assert.ok(set.add("00".repeat(32)), "the zero id, once full, is not held either");
  assert.equal(set.size, 5000);
});

Deno.test("a damaged folder shared by 2^40 paths is entered once and named once per other path", async () => {
  const session = new FakeSession();
  const t = new TreeBuilder(session);
  let dir = t.dir("d", [t.file("f", ["bad"])]);
  session.blobs.delete(t.chunk("bad"));
  for (let i = 0; i < 40; i++) dir = t.dir("d", [{ ...dir, name: "a" }, { ...dir, name: "b" }]);
  session.snapshot(dir.subtree, 1);
  const problems: CheckProblem[] = [];
  const report = await checkSnapshots(session, { onProblem: (p) => problems.push(p) });
  assert.equal(report.errors, 1);
  // The file once (under a/a/…/a), then each level's b once: 41 names, not 2^40.
  assert.equal(problems.length, 41);
  assert.equal(problems[0].path, `/${"a/".repeat(40)}f`);
  assert.match(problems[1].reason, /the same folder as \/a(\/a)*, named above/);
  // Every tree read at most twice (pass 1, then the naming pass).
  assert.ok([...session.gotten.values()].every((n) => n <= 2), JSON.stringify([...session.gotten]));
});

Deno.test("repair reports as dropped only what the server then lacks; what it kept is said apart", async () => {
  const { session, t } = twoSnapshots();
  const onTheWay = t.chunk("one"); // damaged in transit only: the server's copy is good
  const inStore = t.chunk("two"); // damaged in the store: the server drops it
  session.lie = (id, blob) =>
    id === onTheWay || id === inStore ? new TextEncoder().encode("garbled") : blob?.raw;
  const told: BlobId[] = [];
  const repairing = Object.assign(session, {
    dropBlobs(ids: BlobId[]): Promise<void> {
      told.push(...ids);
      session.blobs.delete(inStore);
      return Promise.resolve();
    },
  });
  const report = await repairSnapshots(repairing, {});
  assert.deepEqual(told.toSorted(), [onTheWay, inStore].toSorted());
  assert.deepEqual(report.dropped, [inStore]);
  assert.deepEqual(report.kept, [onTheWay]);
});
