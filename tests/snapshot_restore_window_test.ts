/**
 * How far the restorer's chunk gets run ahead (client/snapshot/restore_fetch.ts): many small
 * chunks of known size at once, chunks of unknown size no more than before (as if each were as
 * large as a chunk may be), and the bytes bound by the chunks' expected sizes.
 */
import assert from "node:assert/strict";
import { restore } from "../client/snapshot/restorer.ts";
import type { BlobId, BlobKind } from "../client/snapshot/blobs.ts";
import { TreeBuilder } from "./_tree_builder.ts";

Deno.test.sanitizer({ ops: true, resources: true });

/**
 * A source over `b`'s blobs that counts chunk gets in flight: a get counts from its call until
 * the restorer could first see its answer (a microtask later), so the most seen is how many the
 * restorer asked for before taking any.
 */
function countingSource(b: TreeBuilder) {
  const seen = { inFlight: 0, most: 0 };
  const source = {
    get: async (id: BlobId, kind: BlobKind) => {
      if (kind !== "data") return await b.blobs.get(id, kind);
      seen.most = Math.max(seen.most, ++seen.inFlight);
      try {
        await null;
        return await b.blobs.get(id, kind);
      } finally {
        seen.inFlight--;
      }
    },
  };
  return { source, seen };
}

async function withTarget(run: (target: string) => Promise<void>) {
  const target = await Deno.makeTempDir({ prefix: "restore-window-" });
  try {
    await run(target);
  } finally {
    await Deno.remove(target, { recursive: true });
  }
}

Deno.test("small files of one chunk each: 64 gets in flight by default, not 16", async () => {
  const b = new TreeBuilder();
  const root = b.tree(Array.from({ length: 200 }, (_, i) => b.file(`f${i}`, [`content ${i}`])));
  const { source, seen } = countingSource(b);
  await withTarget(async (target) => {
    const report = await restore(source, root, { target });
    assert.equal(report.files, 200);
    assert.equal(seen.most, 64);
    assert.equal(await Deno.readTextFile(`${target}/f199`), "content 199");
  });
});

Deno.test("chunks of unknown size count as the largest a chunk may be: 16 in flight", async () => {
  const b = new TreeBuilder();
  // Two chunks per file: neither's size is known from the tree.
  const root = b.tree(
    Array.from({ length: 40 }, (_, i) => b.file(`f${i}`, [`head ${i} `, `tail ${i}`])),
  );
  const { source, seen } = countingSource(b);
  await withTarget(async (target) => {
    await restore(source, root, { target });
    assert.equal(seen.most, 16);
    assert.equal(await Deno.readTextFile(`${target}/f39`), "head 39 tail 39");
  });
});

Deno.test("fetchAheadBytes bounds the gets by their files' sizes", async () => {
  const b = new TreeBuilder();
  const root = b.tree(
    Array.from({ length: 10 }, (_, i) => b.file(`f${i}`, [new Uint8Array(1000).fill(i)])),
  );
  const { source, seen } = countingSource(b);
  await withTarget(async (target) => {
    await restore(source, root, { target, fetchAheadBytes: 2500 });
    assert.equal(seen.most, 2);
    assert.deepEqual(await Deno.readFile(`${target}/f9`), new Uint8Array(1000).fill(9));
  });
});

Deno.test("a chunk larger than fetchAheadBytes still goes, alone", async () => {
  const b = new TreeBuilder();
  const root = b.tree([b.file("big", [new Uint8Array(5000).fill(7)]), b.file("small", ["s"])]);
  const { source, seen } = countingSource(b);
  await withTarget(async (target) => {
    await restore(source, root, { target, fetchAheadBytes: 1000 });
    assert.equal(seen.most, 1);
    assert.equal((await Deno.stat(`${target}/big`)).size, 5000);
    assert.equal(await Deno.readTextFile(`${target}/small`), "s");
  });
});

Deno.test("a chunk larger than its file's declared size fails the file as it arrives: not held", async () => {
  const b = new TreeBuilder();
  // A forged snapshot: 64 files that say 10 bytes, each of one chunk of 256 KiB.
  const forged = Array.from({ length: 64 }, (_, i) => ({
    ...b.file(`forged${i}`, [new Uint8Array(256 * 1024).fill(i)]),
    size: 10,
  }));
  const root = b.tree([...forged, b.file("honest", ["kept"])]);
  const { source } = countingSource(b);
  await withTarget(async (target) => {
    const report = await restore(source, root, { target });
    assert.equal(report.failed, 64);
    assert.match(report.errors[0].message, /more than its declared size of 10 bytes/);
    assert.equal(await Deno.readTextFile(`${target}/honest`), "kept");
  });
  // What the restorer's window held: nothing of a chunk larger than expected.
  const { OrderedFetch } = await import("../client/snapshot/restore_fetch.ts");
  const fetch = new OrderedFetch(source, [forged[0].content[0]], [10], { gets: 4, bytes: 100 });
  await assert.rejects(fetch.next(forged[0].content[0]), /more than its declared size of 10/);
  await fetch.settle();
});

Deno.test("a chunk too large for one file's declared size still restores another file that has it", async () => {
  const b = new TreeBuilder();
  const shared = new Uint8Array(100).fill(3);
  // A forged file of one chunk that says 5 bytes, and an honest file of that chunk and a tail.
  const forged = { ...b.file("a_forged", [shared]), size: 5 };
  const honest = b.file("b_honest", [shared, "tail"]);
  const root = b.tree([forged, honest]);
  await withTarget(async (target) => {
    const report = await restore(b.blobs, root, { target });
    assert.equal(report.failed, 1);
    assert.match(report.errors[0].message, /^a_forged: .*declared size of 5 bytes/);
    assert.equal((await Deno.stat(`${target}/b_honest`)).size, 104);
  });
});
