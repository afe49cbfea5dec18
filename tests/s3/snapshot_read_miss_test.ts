/**
 * A read of a blob the user lacks (a client asking at random) lists the index again at most once
 * a second and reads only index objects not read yet: it once re-read every one of them.
 */
import assert from "node:assert/strict";
import { NoSuchBlobError } from "../../storage/snapshots.ts";
import { dataBlob, noise, snapshotOf, treeBlob } from "../_snapshots.ts";
import { openS3 } from "./_s3_storage.ts";

Deno.test.sanitizer({ ops: true, resources: false });

Deno.test("s3: reads of ids the user lacks cost no re-read of its index objects", async () => {
  await using s3 = await openS3({ chunkFiles: true });
  const snapshots = s3.storage.snapshots!;
  for (let i = 0; i < 30; i++) {
    const session = snapshots.openSession(5);
    const data = dataBlob(noise(i + 1, 100));
    const root = treeBlob([data.id], `r${i}`);
    await session.put(data);
    await session.put(root);
    await session.commit(snapshotOf(root, `r${i}`));
    await session.close();
  }
  await snapshots.readBlob(5, dataBlob(noise(1, 100)).id); // warm
  s3.resetCounts();
  for (let i = 0; i < 10; i++) {
    const id = crypto.getRandomValues(new Uint8Array(32));
    await assert.rejects(snapshots.readBlob(5, id), NoSuchBlobError);
  }
  const counted = JSON.stringify(Object.fromEntries(s3.counts));
  assert.equal(s3.counts.get("GetObject") ?? 0, 0, counted);
  // One refresh: its LIST of drop records and its LIST of index objects (the default GC options
  // keep the tombstone view's own LISTs minutes apart; FAST_GC's every 150 ms once made this fail).
  assert.ok((s3.counts.get("ListObjectsV2") ?? 0) <= 2, counted);
});
