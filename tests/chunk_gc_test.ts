/**
 * Garbage collection of the repository (`storage/embedded/chunk_gc.ts`): what nothing references
 * goes, and nothing anyone still counts on does (an upload in flight, a reader mid-file, a chunk
 * moved by a repack).
 */
import assert from "node:assert/strict";
import { chunkedCharge, packsOf, unreferencedFiles } from "../harness/stored.ts";
import { AVERAGE_CHUNK_SIZE } from "../chunking/fastcdc.ts";
import { verifyRoot } from "../storage/embedded/verify.ts";
import { indexVersionCharge } from "../storage/quota_charge.ts";
import type { Storage } from "../storage/storage.ts";
import { sameBytes } from "./_helpers.ts";
import { randomBytes } from "./_packs.ts";
import {
  getBytes,
  MiB,
  openTempStorage,
  packNames,
  put,
  readSome,
  rowCount,
  seededBytes,
  sharingPart,
  withIndex,
  WRITE_BYTES,
} from "./_repository.ts";

Deno.test.sanitizer({ ops: true, resources: true });

async function assertVerifies(root: string): Promise<void> {
  const report = await verifyRoot({ root, data: "all" });
  assert.deepEqual(report.problems, [], "verify finds nothing wrong");
  assert.deepEqual(report.warnings, [], "verify warns of nothing");
}

Deno.test("a file deleted with keepDays 0: prune removes its chunks and packs, usage returns to before", async () => {
  await using t = await openTempStorage({ retention: { keepDays: 0 }, packTargetBytes: 2 * MiB });
  const kept = randomBytes(5 * MiB);
  await put(t.storage, 2, "kept.bin", kept);
  const packsKept = await packNames(t.root);
  const usageBefore = await t.storage.usage(1);

  await put(t.storage, 1, "gone.bin", randomBytes(12 * MiB));
  assert.ok((await packNames(t.root)).length > packsKept.length);
  await t.storage.delete(1, "gone.bin");
  assert.equal(await t.storage.usage(1), usageBefore, "usage is freed at the delete");
  await t.storage.prune();

  assert.deepEqual(await packNames(t.root), packsKept, "only the other user's packs are left");
  assert.deepEqual(await unreferencedFiles(t.root), []);
  assert.equal(await t.storage.usage(1), usageBefore);
  assert.ok(sameBytes(await getBytes(t.storage, 2, "kept.bin"), kept));
  await assertVerifies(t.root);
});

Deno.test("keepVersions 1: the version pushed out goes at prune, chunks shared with the kept ones stay", async () => {
  await using t = await openTempStorage({
    retention: { keepDays: 30, keepVersions: 1 },
    packTargetBytes: 2 * MiB,
  });
  const v1 = randomBytes(6 * MiB);
  const v2 = randomBytes(6 * MiB);
  const v3 = v2.slice();
  v3.set(randomBytes(MiB), 0); // shares v2's tail
  await put(t.storage, 1, "f", v1);
  await put(t.storage, 1, "f", v2);
  const v2Id = (await t.storage.stat(1, "f"))!.versionId;
  await put(t.storage, 1, "f", v3); // v1 is now beyond keepVersions: removed
  await t.storage.prune();

  const expected = chunkedCharge(v2, v3) + 2 * indexVersionCharge(1);
  assert.equal(await t.storage.usage(1), expected, "usage is v2 and v3 after dedup");
  assert.deepEqual(await unreferencedFiles(t.root), [], "no pack is left that nothing indexes");
  assert.ok(sameBytes(await getBytes(t.storage, 1, "f"), v3));
  assert.ok(sameBytes(await getBytes(t.storage, 1, "f", v2Id), v2));
  await assertVerifies(t.root);
});

for (const pruneAt of ["mid-upload", "before-commit"] as const) {
  Deno.test(`an upload that dedups against chunks whose references just dropped to 0 survives a prune (${pruneAt})`, async () => {
    await using t = await openTempStorage({
      retention: { keepDays: 0 },
      packTargetBytes: 2 * MiB,
    });
    const bytes = randomBytes(12 * MiB);
    await put(t.storage, 1, "old.bin", bytes);
    await t.storage.delete(1, "old.bin"); // every chunk now unreferenced, not yet collected

    const upload = await t.storage.beginUpload(1, "new.bin", { size: bytes.length });
    const half = bytes.length / 2;
    const write = async (from: number, to: number) => {
      for (let at = from; at < to; at += WRITE_BYTES) {
        await upload.write(bytes.subarray(at, Math.min(to, at + WRITE_BYTES)));
      }
    };
    await write(0, half);
    if (pruneAt === "mid-upload") await t.storage.prune();
    await write(half, bytes.length);
    if (pruneAt === "before-commit") await t.storage.prune();
    await upload.commit();

    assert.ok(sameBytes(await getBytes(t.storage, 1, "new.bin"), bytes), "restores whole");
    await t.storage.prune();
    assert.ok(sameBytes(await getBytes(t.storage, 1, "new.bin"), bytes), "and after a prune");
    assert.equal(await t.storage.usage(1), chunkedCharge(bytes) + indexVersionCharge(7));
    assert.deepEqual(await unreferencedFiles(t.root), []);
    await assertVerifies(t.root);
  });
}

Deno.test("a reader of a version deleted and collected mid-read gets every byte; after it lets go, the packs go", async () => {
  await using t = await openTempStorage({ retention: { keepDays: 0 }, packTargetBytes: MiB });
  const bytes = randomBytes(10 * MiB);
  await put(t.storage, 1, "f", bytes);
  const file = await t.storage.open(1, "f");
  try {
    const head = await readSome(file, 100_000);
    await t.storage.delete(1, "f");
    await t.storage.prune();
    const tail = await readSome(file, bytes.length);
    assert.ok(sameBytes(head, bytes.subarray(0, head.length)));
    assert.ok(sameBytes(tail, bytes.subarray(head.length)), "the rest, after the prune");
  } finally {
    file[Symbol.dispose]();
  }
  assert.ok((await packNames(t.root)).length > 0, "nothing was removed while it read");
  await t.storage.prune();
  assert.deepEqual(await packNames(t.root), [], "its packs go once it is done");
  assert.equal(rowCount(t.root, "blobs"), 0);
  assert.equal(rowCount(t.root, "released_chunks"), 0);
  await assertVerifies(t.root);
});

async function restoresWhole(storage: Storage, name: string, bytes: Uint8Array) {
  assert.ok(sameBytes(await getBytes(storage, 1, name), bytes), `${name} restores whole`);
}

Deno.test("a pack mostly garbage is repacked: live chunks move, the old pack goes, usage and reads hold", async () => {
  // Packs of about 8 chunks; b shares a few of a's in its middle: with these seeds, that pack of a
  // is mostly garbage.
  await using t = await openTempStorage({
    retention: { keepDays: 0 },
    packTargetBytes: 8 * AVERAGE_CHUNK_SIZE,
  });
  // Seeded: the chunks, and so which pack is mostly garbage, are the same on every run.
  const a = seededBytes(2101, 32 * AVERAGE_CHUNK_SIZE);
  const b = sharingPart(a, 16 * AVERAGE_CHUNK_SIZE, 6 * AVERAGE_CHUNK_SIZE, 2102);
  await put(t.storage, 1, "a", a);
  await put(t.storage, 1, "b", b);
  const shared = packsOf(t.root, 1, "a").filter((pack) => packsOf(t.root, 1, "b").includes(pack));
  assert.ok(shared.length > 0, "b shares chunks in some of a's packs");
  await t.storage.delete(1, "a");
  const usage = await t.storage.usage(1);

  // A reader of b holds the places of its first chunks (a page) when the repack moves them.
  const reader = await t.storage.open(1, "b");
  try {
    const head = await readSome(reader, 1000);
    const report = await (t.storage as unknown as {
      collectGarbage(): Promise<{ packsRepacked: number }>;
    }).collectGarbage();
    assert.ok(report.packsRepacked > 0, `repacked ${report.packsRepacked}`);
    const moved = shared.filter((pack) => !packsOf(t.root, 1, "b").includes(pack));
    assert.ok(moved.length > 0, "b's chunks moved out of some of a's packs");
    for (const pack of moved) await assert.rejects(Deno.stat(pack), Deno.errors.NotFound);
    const wasteful = withIndex(
      t.root,
      (db) => db.prepare("SELECT name FROM packs WHERE live_bytes * 2 < data_bytes").all(),
    );
    assert.deepEqual(wasteful, [], "no pack left under half live");
    const tail = await readSome(reader, b.length);
    assert.ok(sameBytes(head, b.subarray(0, head.length)));
    assert.ok(sameBytes(tail, b.subarray(head.length)), "the reader found the moved chunks");
  } finally {
    reader[Symbol.dispose]();
  }
  assert.equal(await t.storage.usage(1), usage, "a repack changes no usage");
  await restoresWhole(t.storage, "b", b);
  await t.storage.prune();
  assert.deepEqual(await unreferencedFiles(t.root), []);
  await assertVerifies(t.root);
});

Deno.test("packs whose chunks only a reader still needs are not rewritten at every prune", async () => {
  await using t = await openTempStorage({ retention: { keepDays: 0 }, packTargetBytes: 2 * MiB });
  const bytes = randomBytes(8 * MiB);
  await put(t.storage, 1, "f", bytes);
  const collect = () =>
    (t.storage as unknown as {
      collectGarbage(): Promise<{ packsRepacked: number }>;
    }).collectGarbage();
  const reader = await t.storage.open(1, "f");
  try {
    const head = await readSome(reader, 1000);
    await t.storage.delete(1, "f"); // a slow reader, or one that stalls on purpose
    await collect();
    const again = await collect();
    assert.equal(again.packsRepacked, 0, "the same dead chunks are not copied run after run");
    const tail = await readSome(reader, bytes.length);
    assert.ok(sameBytes(head, bytes.subarray(0, head.length)));
    assert.ok(sameBytes(tail, bytes.subarray(head.length)));
  } finally {
    reader[Symbol.dispose]();
  }
  await t.storage.prune();
  assert.deepEqual(await packNames(t.root), []);
});
