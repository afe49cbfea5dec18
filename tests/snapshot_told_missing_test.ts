/**
 * A session does not look up again in the index a blob it answered missing: two sessions of one
 * user told the same blob missing both store it, and the index keeps one copy, counted once in its
 * pack's bytes and in the user's usage (the other is dead space, as when both put it before
 * either indexed it).
 */
import assert from "node:assert/strict";
import { BLOB_OVERHEAD_BYTES } from "../storage/quota_charge.ts";
import { snapshotCharge } from "../storage/embedded/schema_snapshots.ts";
import { verifyRoot } from "../storage/embedded/verify.ts";
import { KiB, openTempStorage, rowCount, withIndex } from "./_repository.ts";
import { dataBlob, noise, snapshotOf, treeBlob } from "./_snapshots.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const T0 = 1_790_000_000_000;

Deno.test("two sessions told the same blob missing both store it: indexed once, counted once, both commit", async () => {
  await using t = await openTempStorage({ now: () => T0 });
  const snapshots = t.storage.snapshots;
  const shared = dataBlob(noise(1, 40 * KiB));
  const own = dataBlob(noise(2, 10 * KiB));
  const first = snapshots.openSession(1);
  const second = snapshots.openSession(1);
  assert.deepEqual(await first.missing([shared.id]), [true]);
  assert.deepEqual(await second.missing([shared.id, own.id]), [true, true]);

  const treeA = treeBlob([shared.id], "a");
  await first.put(shared);
  await first.put(treeA);
  assert.deepEqual(await first.commit(snapshotOf(treeA, "a")), { missing: [] });
  await first.close();

  // Indexed by the first session meanwhile; the second was told missing, and sends it.
  const treeB = treeBlob([shared.id, own.id], "b");
  await second.put(shared);
  await second.put(own);
  await second.put(treeB);
  assert.deepEqual(await second.commit(snapshotOf(treeB, "b")), { missing: [] });
  await second.close();

  assert.equal(rowCount(t.root, "blobs"), 4, "shared once, own, and the two trees");
  const [indexedBytes, countedBytes] = withIndex(t.root, (db) => [
    (db.prepare("SELECT sum(stored_length) AS n FROM blobs").get() as { n: number }).n,
    (db.prepare("SELECT sum(blob_bytes) AS n FROM packs").get() as { n: number }).n,
  ]);
  assert.equal(countedBytes, indexedBytes, "the packs count the second copy nowhere");
  const blobs = [shared, own, treeA, treeB];
  const charged = blobs.reduce((sum, blob) => sum + blob.bytes.length + BLOB_OVERHEAD_BYTES, 0) +
    snapshotCharge(snapshotOf(treeA, "a").record.length) +
    snapshotCharge(snapshotOf(treeB, "b").record.length);
  assert.equal(await t.storage.usage(1), charged, "each blob charged once");
  const report = await verifyRoot({ root: t.root, data: "all" });
  assert.deepEqual(report.problems, [], "verify finds nothing wrong");
});
