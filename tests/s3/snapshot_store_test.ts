/**
 * The S3 snapshot repository on Swift (`storage/s3/snapshot_store.ts`, docs/snapshots_plan.md §7),
 * the cases of the embedded store's suite (`tests/snapshot_store_test.ts`) that hold for any
 * store: blobs checked against their ids, commits only of complete snapshots, trees sent before
 * what they name, each user's snapshots apart, the blobs of an interrupted run found by the next
 * one on another server, forget, append-only, quota.
 */
import assert from "node:assert/strict";
import { decodeBlob } from "../../repository/blob_codec.ts";
import { toHex } from "../../common/hex.ts";
import { DeleteRefusedError, QuotaExceededError } from "../../storage/errors.ts";
import {
  BlobMismatchError,
  NoSuchBlobError,
  NoSuchSnapshotError,
  type SnapshotRepository,
} from "../../storage/snapshots.ts";
import { dataBlob, noise, snapshotOf, treeBlob } from "../_snapshots.ts";
import { generatedText } from "../_repository.ts";
import { FAST_GC } from "./_gc.ts";
import { keysUnder, openS3 } from "./_s3_storage.ts";

// The client's keep-alive sockets outlive a test by design: only ops are checked.
Deno.test.sanitizer({ ops: true, resources: false });

const KiB = 1024;
const USER = 3;
const OPTIONS = { chunkFiles: true, gc: FAST_GC, packTargetBytes: 64 * KiB };

async function listed(snapshots: SnapshotRepository, userId: number): Promise<string[]> {
  const ids: string[] = [];
  for await (const snapshot of snapshots.listSnapshots(userId)) ids.push(toHex(snapshot.id));
  return ids;
}

async function readRaw(snapshots: SnapshotRepository, userId: number, id: Uint8Array) {
  const blob = await snapshots.readBlob(userId, id);
  return decodeBlob(blob.bytes, blob.encoding === "zstd" ? "zstd" : "none", blob.rawLength);
}

Deno.test("s3 snapshots: put, missing and read round trip; a wrong id is refused, nothing stored", async () => {
  await using s3 = await openS3(OPTIONS);
  const snapshots = s3.storage.snapshots!;
  assert.ok(snapshots, "an S3 store with chunkFiles keeps snapshots");
  const plain = dataBlob(noise(1, 40 * KiB));
  const text = dataBlob(generatedText(2, 200 * KiB), true);
  assert.equal(text.encoding, "zstd");
  const session = snapshots.openSession(USER);
  assert.deepEqual(await session.missing([plain.id, text.id]), [true, true]);
  await session.put(plain);
  await session.put(text);
  await session.put(plain);
  assert.deepEqual(await session.missing([plain.id, text.id]), [false, false]);
  const wrong = { ...dataBlob(noise(3, 1000)), id: plain.id.map((b) => b ^ 1) };
  await assert.rejects(session.put(wrong), BlobMismatchError);
  const tree = treeBlob([plain.id, text.id]);
  await session.put(tree);
  const snapshot = snapshotOf(tree);
  assert.deepEqual(await session.commit(snapshot), { missing: [] });
  await session.close();
  assert.deepEqual(await readRaw(snapshots, USER, plain.id), noise(1, 40 * KiB));
  assert.deepEqual(await readRaw(snapshots, USER, text.id), generatedText(2, 200 * KiB));
  assert.equal((await snapshots.readBlob(USER, tree.id)).kind, "tree");
  await assert.rejects(snapshots.readBlob(USER, wrong.id), NoSuchBlobError);
  // Another user sees none of it.
  await assert.rejects(snapshots.readBlob(USER + 1, plain.id), NoSuchBlobError);
  assert.deepEqual(await listed(snapshots, USER + 1), []);
  const other = snapshots.openSession(USER + 1);
  assert.deepEqual(await other.missing([plain.id, tree.id]), [true, true]);
  assert.deepEqual((await other.commit(snapshot)).missing.map(toHex), [toHex(tree.id)]);
  await other.close();
  // The objects: the snapshot, one references object (the tree's), and an index object per pack
  // at most (a pack stored before the commit is indexed as it is stored, behind the puts).
  assert.equal((await keysUnder(s3.client, `${s3.prefix}s/${USER}/`)).length, 1);
  assert.equal((await keysUnder(s3.client, `${s3.prefix}t/${USER}/`)).length, 1);
  const packs = (await keysUnder(s3.client, `${s3.prefix}p/${USER}/`)).length;
  const indexes = (await keysUnder(s3.client, `${s3.prefix}x/${USER}/snap.`)).length;
  assert.ok(indexes >= 1 && indexes <= packs, `${indexes} index objects for ${packs} packs`);
});

Deno.test("s3 snapshots: a commit with a missing reference answers it and commits nothing; trees may come first", async () => {
  await using s3 = await openS3(OPTIONS);
  const snapshots = s3.storage.snapshots!;
  const a = dataBlob(noise(10, 5000));
  const b = dataBlob(noise(11, 6000));
  const leaf = treeBlob([a.id, b.id], "leaf");
  const root = treeBlob([leaf.id], "root");
  const session = snapshots.openSession(USER);
  // Top down: the root and the leaf wait for what they name.
  await session.put(root);
  await session.put(leaf);
  await session.put(a);
  const first = await session.commit(snapshotOf(root));
  assert.deepEqual(first.missing.map(toHex), [toHex(b.id)]);
  assert.deepEqual(await listed(snapshots, USER), []);
  await session.put(b);
  assert.deepEqual(await session.commit(snapshotOf(root)), { missing: [] });
  assert.deepEqual(await session.commit(snapshotOf(root)), { missing: [] }, "again: it exists");
  await session.close();
  assert.deepEqual(await listed(snapshots, USER), [toHex(snapshotOf(root).id)]);
  // A tree that names itself through another can never be complete.
  const cycle = snapshots.openSession(USER);
  const x = treeBlob([sha256Of("y")], "x");
  await cycle.put(x);
  const missing = (await cycle.commit(snapshotOf(x))).missing;
  assert.deepEqual(missing.map(toHex), [toHex(sha256Of("y"))]);
  await cycle.close();
});

Deno.test("s3 snapshots: each user's list in stored order; forget, unknown ids, append-only", async () => {
  let appendOnly = false;
  await using s3 = await openS3({ ...OPTIONS, appendOnlyOf: () => appendOnly });
  const snapshots = s3.storage.snapshots!;
  const ids: string[] = [];
  for (const label of ["one", "two", "three"]) {
    const session = snapshots.openSession(USER);
    const data = dataBlob(noise(label.length, 3000));
    const tree = treeBlob([data.id], label);
    await session.put(data);
    await session.put(tree);
    assert.deepEqual(await session.commit(snapshotOf(tree, label)), { missing: [] });
    await session.close();
    ids.push(toHex(snapshotOf(tree, label).id));
  }
  assert.deepEqual(await listed(snapshots, USER), ids);
  const first = [];
  for await (const snapshot of snapshots.listSnapshots(USER)) first.push(snapshot);
  assert.deepEqual(
    first[0].record,
    snapshotOf(treeBlob([dataBlob(noise(3, 3000)).id], "one"), "one").record,
  );
  await assert.rejects(snapshots.forgetSnapshot(USER, new Uint8Array(32)), NoSuchSnapshotError);
  appendOnly = true;
  await assert.rejects(snapshots.forgetSnapshot(USER, first[1].id), DeleteRefusedError);
  appendOnly = false;
  await snapshots.forgetSnapshot(USER, first[1].id);
  assert.deepEqual(await listed(snapshots, USER), [ids[0], ids[2]]);
  await assert.rejects(snapshots.forgetSnapshot(USER + 1, first[0].id), NoSuchSnapshotError);
});

Deno.test("s3 snapshots: a session closed without a commit leaves its blobs for the next run, on another server", async () => {
  await using a = await openS3(OPTIONS);
  const blobs = Array.from({ length: 6 }, (_, i) => dataBlob(noise(100 + i, 30 * KiB)));
  const tree = treeBlob(blobs.map((blob) => blob.id));
  const interrupted = a.storage.snapshots!.openSession(USER);
  for (const blob of blobs) await interrupted.put(blob);
  await interrupted.close();
  await using b = await openS3(OPTIONS, a.prefix);
  const next = b.storage.snapshots!.openSession(USER);
  assert.deepEqual(await next.missing(blobs.map((blob) => blob.id)), blobs.map(() => false));
  await next.put(tree);
  assert.deepEqual(await next.commit(snapshotOf(tree)), { missing: [] });
  await next.close();
  for (const [i, blob] of blobs.entries()) {
    assert.deepEqual(await readRaw(a.storage.snapshots!, USER, blob.id), noise(100 + i, 30 * KiB));
  }
  assert.deepEqual(await listed(a.storage.snapshots!, USER), [toHex(snapshotOf(tree).id)]);
});

Deno.test("s3 snapshots: a run made again while the cut-off one is still closing is told its blobs are there", async () => {
  await using s3 = await openS3(OPTIONS);
  const snapshots = s3.storage.snapshots!;
  const blobs = Array.from({ length: 8 }, (_, i) => dataBlob(noise(300 + i, 20 * KiB)));
  const cut = snapshots.openSession(USER);
  for (const blob of blobs) await cut.put(blob);
  const closed = cut.close(); // not awaited: its last pack and its index are on their way
  const again = snapshots.openSession(USER);
  assert.deepEqual(await again.missing(blobs.map((blob) => blob.id)), blobs.map(() => false));
  await closed;
  await again.close();
});

Deno.test("s3 snapshots: the quota counts packs and records; a put past it is refused", async () => {
  await using s3 = await openS3({ ...OPTIONS, quotaOf: () => 100 * KiB, usageTtlMs: 0 });
  const snapshots = s3.storage.snapshots!;
  const session = snapshots.openSession(USER);
  const small = dataBlob(noise(20, 40 * KiB));
  await session.put(small);
  await assert.rejects(session.put(dataBlob(noise(21, 70 * KiB))), QuotaExceededError);
  const tree = treeBlob([small.id]);
  await session.put(tree);
  assert.deepEqual(await session.commit(snapshotOf(tree)), { missing: [] });
  await session.close();
  const usage = await s3.storage.usage(USER);
  assert.ok(usage > 40 * KiB && usage < 50 * KiB, `usage ${usage}`);
});

function sha256Of(text: string): Uint8Array {
  return dataBlob(new TextEncoder().encode(text)).id;
}
