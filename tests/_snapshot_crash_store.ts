/**
 * A snapshot store for crash tests: `deno run … tests/_snapshot_crash_store.ts ROOT MODE` opens the
 * embedded engine on ROOT (packs of about 64 KiB) and commits snapshots of user 1, snapshot `n`
 * made of eight 24 KiB chunks under two subtrees (`snapshotBlobs`). It prints `port 0` first (the
 * line `startCrashProcess` waits for: nothing listens), then:
 * - MODE `packs-durable` or `durable`: `committed 0` once snapshot 0 is committed, then
 *   `paused at MODE` when snapshot 1's commit reaches that step, where it waits for the SIGKILL;
 * - MODE `loop`: `committed N` after each snapshot, for ever (the test kills it mid-commit).
 */
import { EmbeddedStorage } from "../storage/embedded/engine.ts";
import type { SnapshotCommitStep } from "../storage/embedded/options.ts";
import { snapshotBlobs } from "./_snapshot_crash.ts";

const [root, mode] = Deno.args;
let committing = 0;
const { storage } = await EmbeddedStorage.open({
  root,
  pruneIntervalMs: 0,
  hashWorkers: 0,
  packTargetBytes: 64 * 1024,
  onSnapshotCommitStep: async (step: SnapshotCommitStep) => {
    if (committing !== 1 || step !== mode) return;
    console.log(`paused at ${step}`);
    await new Promise(() => setInterval(() => {}, 60_000)); // until killed (a timer keeps it alive)
  },
});
console.log("port 0");
for (let n = 0;; n++) {
  committing = n;
  const { blobs, snapshot } = snapshotBlobs(n);
  const session = storage.snapshots.openSession(1);
  for (const blob of blobs) await session.put(blob);
  const { missing } = await session.commit(snapshot);
  if (missing.length > 0) throw new Error(`snapshot ${n} lacks ${missing.length} blobs`);
  await session.close();
  console.log(`committed ${n}`);
}
