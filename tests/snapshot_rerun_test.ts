/**
 * A run made again right after one was cut off (client killed, connection dropped): the server may
 * still be closing the old run's session, writing and indexing what it received, when the new
 * run asks which blobs it lacks. The answer must count them, or the new run sends them a second
 * time (issue 22: "the next run sends no chunk twice"); a session that is open and not closing
 * (another host's run) is not waited for.
 */
import assert from "node:assert/strict";
import { KiB, openTempStorage } from "./_repository.ts";
import { dataBlob, noise, snapshotOf, treeBlob } from "./_snapshots.ts";

Deno.test.sanitizer({ ops: true, resources: true });

Deno.test("a session opened while the user's last one is still closing finds what that one received", async () => {
  await using t = await openTempStorage();
  const chunks = [0, 1, 2].map((i) => dataBlob(noise(70 + i, 40 * KiB)));
  const tree = treeBlob(chunks.map((chunk) => chunk.id));
  const ids = [...chunks, tree].map((blob) => blob.id);
  const cut = t.storage.snapshots.openSession(1);
  for (const blob of [...chunks, tree]) await cut.put(blob);
  // The connection ended: its close (the pack written, its blobs indexed) is under way, not done.
  const closing = cut.close();
  const next = t.storage.snapshots.openSession(1);
  assert.deepEqual(await next.missing(ids), [false, false, false, false], "nothing to send again");
  assert.deepEqual(await next.commit(snapshotOf(tree)), { missing: [] });
  await next.close();
  await closing;
});

Deno.test("a session open beside another of the same user (not closing) does not wait for it", async () => {
  await using t = await openTempStorage();
  const chunk = dataBlob(noise(80, 40 * KiB));
  const other = t.storage.snapshots.openSession(1);
  await other.put(chunk);
  const next = t.storage.snapshots.openSession(1);
  const first = await Promise.race([
    next.missing([chunk.id]).then((answer) => ({ answer })),
    // Only if `next` waited for `other` would this settle first.
    Promise.resolve().then(() => other.close()).then(() => "other closed first"),
  ]);
  assert.deepEqual(first, { answer: [true] }, "not yet the store's: the other run may still fail");
  await other.close();
  await next.close();
});
