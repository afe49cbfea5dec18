/**
 * A snapshot session indexes each pack it writes behind the puts that follow
 * (`storage/embedded/snapshot_session.ts`): the index's fsync no longer holds up the session's
 * queue, the commit waits for it, and its failure fails the next put and the commit.
 */
import assert from "node:assert/strict";
import { verifyRoot } from "../storage/embedded/verify.ts";
import type { SnapshotCommitStep } from "../storage/embedded/options.ts";
import { KiB, openTempStorage } from "./_repository.ts";
import { dataBlob, noise, snapshotOf, treeBlob } from "./_snapshots.ts";

Deno.test.sanitizer({ ops: true, resources: true });

/**
 * Eight chunks of 24 KiB and their tree. With packs of 16 KiB each chunk fills one, and the writer
 * commits two packs at once at most: by the third put one is written and its indexing starts.
 */
function blobs() {
  const chunks = Array.from({ length: 8 }, (_, i) => dataBlob(noise(500 + i, 24 * KiB)));
  return { chunks, tree: treeBlob(chunks.map((chunk) => chunk.id)) };
}

Deno.test("a written pack is indexed behind the puts: they go on while its indexing waits, the commit waits for it", async () => {
  const gate = Promise.withResolvers<void>();
  const steps: SnapshotCommitStep[] = [];
  await using t = await openTempStorage({
    packTargetBytes: 16 * KiB,
    onSnapshotCommitStep: async (step) => {
      steps.push(step);
      if (step === "pack-indexing") await gate.promise;
    },
  });
  const { chunks, tree } = blobs();
  const session = t.storage.snapshots.openSession(1);
  for (const chunk of chunks) await session.put(chunk); // never waits for the gate
  await session.put(tree);
  assert.equal(steps[0], "pack-indexing", "a pack was written and its indexing started");
  assert.ok(!steps.includes("packs-durable"));
  const committing = session.commit(snapshotOf(tree));
  gate.resolve();
  assert.deepEqual(await committing, { missing: [] });
  const packsDurable = steps.indexOf("packs-durable");
  assert.ok(
    steps.slice(0, packsDurable).every((step) => step === "pack-indexing"),
    `every indexing behind came before the commit's steps: ${steps}`,
  );
  await session.close();
  const report = await verifyRoot({ root: t.root, data: "all" });
  assert.deepEqual(report.problems, []);
});

Deno.test("a failed indexing behind fails the next put and the commit: nothing is committed", async () => {
  const failure = new Error("the index's fsync failed");
  let failed = false;
  await using t = await openTempStorage({
    packTargetBytes: 16 * KiB,
    onSnapshotCommitStep: (step) => {
      if (step !== "pack-indexing") return;
      failed = true;
      throw failure;
    },
  });
  const { chunks, tree } = blobs();
  const session = t.storage.snapshots.openSession(1);
  let put = 0;
  while (!failed) await session.put(chunks[put++]);
  assert.ok(put <= 3, `the indexing started by the third put (the ${put}th)`);
  await assert.rejects(session.put(chunks[put]), (error) => error === failure);
  await assert.rejects(session.commit(snapshotOf(tree)), (error) => error === failure);
  await session.close();
  const listed = [];
  for await (const snapshot of t.storage.snapshots.listSnapshots(1)) listed.push(snapshot);
  assert.deepEqual(listed, []);
});
