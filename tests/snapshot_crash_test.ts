/**
 * SIGKILL of a process serving snapshots in the middle of a commit (`_snapshot_crash_store.ts`):
 * after a restart no half snapshot is listed (every one listed reads whole, each blob matching its
 * id), no pack is left that the index does not know, verify is clean, and the run can be made again.
 */
import assert from "node:assert/strict";
import { unreferencedFiles } from "../harness/stored.ts";
import { EmbeddedStorage } from "../storage/embedded/engine.ts";
import type { SnapshotCommitStep } from "../storage/embedded/options.ts";
import { verifyRoot } from "../storage/embedded/verify.ts";
import type { SnapshotRepository } from "../storage/snapshots.ts";
import { toHex } from "../common/hex.ts";
import { startCrashProcess } from "./_crash_process.ts";
import { readWhole, snapshotBlobs } from "./_snapshot_crash.ts";

Deno.test.sanitizer({ ops: true, resources: true });

/** Blobs of one snapshot of `_snapshot_crash.ts`: eight chunks, two subtrees, a root. */
const BLOBS_PER_SNAPSHOT = 11;

/** Every listed snapshot read whole; returns their ids. */
async function checkListed(snapshots: SnapshotRepository): Promise<string[]> {
  const ids: string[] = [];
  for await (const snapshot of snapshots.listSnapshots(1)) {
    assert.equal(await readWhole(snapshots, 1, snapshot.tree), BLOBS_PER_SNAPSHOT);
    ids.push(toHex(snapshot.id));
  }
  return ids;
}

async function checkRoot(root: string): Promise<string[]> {
  const { storage } = await EmbeddedStorage.open({ root, pruneIntervalMs: 0, hashWorkers: 0 });
  try {
    assert.deepEqual(await unreferencedFiles(root), [], "no pack the index does not know");
    const report = await verifyRoot({ root, data: "all" });
    assert.deepEqual(report.problems, []);
    return await checkListed(storage.snapshots);
  } finally {
    await storage.close();
  }
}

const idOf = (n: number) => toHex(snapshotBlobs(n).snapshot.id);

for (const step of ["packs-durable", "durable"] as SnapshotCommitStep[]) {
  Deno.test(`SIGKILL at the commit step ${step}: no half snapshot, and the run made again commits`, async () => {
    const root = await Deno.makeTempDir({ prefix: "backup-snapshot-crash-" });
    try {
      const crashing = await startCrashProcess("./_snapshot_crash_store.ts", root, [step]);
      assert.equal(await crashing.nextLine(), "committed 0");
      assert.equal(await crashing.nextLine(), `paused at ${step}`);
      await crashing.kill();

      const listed = await checkRoot(root);
      assert.deepEqual(listed, step === "durable" ? [idOf(0), idOf(1)] : [idOf(0)]);
      const { storage } = await EmbeddedStorage.open({ root, pruneIntervalMs: 0, hashWorkers: 0 });
      try {
        const { blobs, snapshot } = snapshotBlobs(1);
        const session = storage.snapshots.openSession(1);
        const missing = await session.missing(blobs.map((blob) => blob.id));
        // Killed before its commit's index change, a run left at most the packs filled (and
        // indexed) before: whether one was depends on when its fsync ended.
        if (step === "durable") assert.ok(missing.every((lacking) => !lacking));
        else assert.ok(missing.at(-1), "the root, in the last pack, is sent again");
        for (const [i, blob] of blobs.entries()) if (missing[i]) await session.put(blob);
        assert.deepEqual(await session.commit(snapshot), { missing: [] });
        await session.close();
        assert.deepEqual(await checkListed(storage.snapshots), [idOf(0), idOf(1)]);
      } finally {
        await storage.close();
      }
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  });
}

Deno.test("SIGKILL while snapshots are committed one after another: every listed one is whole", async () => {
  const root = await Deno.makeTempDir({ prefix: "backup-snapshot-crash-" });
  try {
    const crashing = await startCrashProcess("./_snapshot_crash_store.ts", root, ["loop"]);
    // Killed as soon as the fourth is acknowledged: the fifth is somewhere in its puts or commit.
    for (let n = 0; n < 4; n++) assert.equal(await crashing.nextLine(), `committed ${n}`);
    await crashing.kill();
    const listed = await checkRoot(root);
    assert.ok(listed.length >= 4, `${listed.length} listed`);
    assert.deepEqual(listed, Array.from({ length: listed.length }, (_, n) => idOf(n)));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
