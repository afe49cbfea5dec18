/**
 * Repack of snapshot packs on Swift (`storage/s3/snapshot_repack.ts`), G = 5 s: packs mostly
 * garbage once a snapshot is forgotten have their live blobs copied and go, the bytes stored fall,
 * and the snapshot kept reads whole through the server, a server whose cache read the old places,
 * and a cold one; a commit on another server that relied, between the repack's mark and its doom,
 * on a dead tree the repack did not copy keeps it and what it names; a pruner killed after its
 * copies, or after their index, leaves every snapshot readable, and a re-run finishes the job.
 *
 * The layout's dead trees make three levels (the forgotten root's pack names the dead tree
 * `junk`, which shares a pack with `kept` and names the dead blob of each of the 8 packs): what a
 * dead tree names stays in place until a run after its pack is deleted, so the runs go, G apart:
 * the root's pack doomed as it is, then `kept`'s pack repacked, then the 8 packs.
 */
import assert from "node:assert/strict";
import { toHex } from "../../common/hex.ts";
import { freshPrefix } from "../../harness/s3_location.ts";
import type { ChunkGcReport, ChunkGcStep } from "../../storage/s3/options.ts";
import { dataBlob, noise, snapshotOf, treeBlob } from "../_snapshots.ts";
import { FAST_GC, packsOf, pruneUntil, recording } from "./_gc.ts";
import { keysUnder, openS3, type TestS3 } from "./_s3_storage.ts";
import {
  doomedPacks,
  LAYOUT_PACKS,
  packBytes,
  packsHolding,
  readWhole,
  SNAPSHOT_ENGINE,
  storeLayout,
  USER,
} from "./_snapshot_repack.ts";
import { pausedPruner } from "./_repack.ts";

// The client's keep-alive sockets outlive a test by design: only ops are checked.
Deno.test.sanitizer({ ops: true, resources: false });

/** Blobs the kept snapshot reads: its root, the live tree, one live blob per pack. */
const KEPT_BLOBS = 2 + LAYOUT_PACKS;

/**
 * Prunes through `s3` until none of `packs` is listed; what is left after `limitMs` (the layout's
 * three levels of dead trees take a doom and a sweep each, G apart, about 4G).
 */
async function pruneUntilGone(s3: TestS3, packs: readonly string[], limitMs = 60_000) {
  const deadline = Date.now() + limitMs;
  let left = [...packs];
  while (Date.now() < deadline) {
    await s3.storage.prune();
    const now = await packsOf(s3.client, s3.prefix, USER);
    left = packs.filter((pack) => now.has(pack));
    if (left.length === 0) break;
  }
  return left;
}

Deno.test("s3 snapshot repack: packs mostly garbage after a forget are repacked, bytes fall, the kept snapshot reads whole", async () => {
  const reports: ChunkGcReport[] = [];
  await using s3 = await openS3({ ...SNAPSHOT_ENGINE, gc: recording(reports) });
  // A second server, started before: its cache holds the old places. Its tombstone view is
  // refreshed as often as the first's, so that it sees the repack's tombstone while it lives.
  await using early = await openS3({ ...SNAPSHOT_ENGINE, gc: FAST_GC }, s3.prefix);
  const layout = await storeLayout(s3);
  const { all, keptRoot } = layout;
  assert.equal(await readWhole(early.storage.snapshots!, keptRoot.id, all), KEPT_BLOBS);
  const before = await packBytes(s3);

  // `kept`'s pack, then (once the dead tree `junk` in it is deleted) the 8 packs.
  const repacked = () => reports.reduce((sum, r) => sum + (r.snapshotPacksRepacked ?? 0), 0);
  await pruneUntil(
    s3.storage,
    reports,
    () => repacked() >= LAYOUT_PACKS + 1,
    "the snapshot repacks",
    60_000,
  );
  const copied = reports.reduce((sum, r) => sum + r.copiedChunks, 0);
  assert.ok(copied >= KEPT_BLOBS - 1 && copied <= KEPT_BLOBS, `${copied} copied: the live only`);
  assert.equal(await readWhole(s3.storage.snapshots!, keptRoot.id, all), KEPT_BLOBS);

  assert.deepEqual(await pruneUntilGone(s3, layout.packs), [], "the old packs are gone");
  // The server whose cache read the old places found the copies' when the old packs were doomed:
  // a backup through it sends none of the kept blobs again.
  const keptIds = [keptRoot.id, layout.kept.id, ...layout.keeps.map((blob) => blob.id)];
  const again = early.storage.snapshots!.openSession(USER);
  try {
    assert.deepEqual(await again.missing(keptIds), keptIds.map(() => false), "nothing to resend");
  } finally {
    await again.close();
  }
  const after = await packBytes(s3);
  assert.ok(after < before / 3, `${before} bytes stored, then ${after}`);
  assert.equal(await readWhole(s3.storage.snapshots!, keptRoot.id, all), KEPT_BLOBS);
  assert.equal(await readWhole(early.storage.snapshots!, keptRoot.id, all), KEPT_BLOBS);
  await using cold = await openS3(SNAPSHOT_ENGINE, s3.prefix);
  assert.equal(await readWhole(cold.storage.snapshots!, keptRoot.id, all), KEPT_BLOBS);
  assert.equal((await keysUnder(s3.client, `${s3.prefix}g/pins/`)).length, 0, "no pin left");
});

Deno.test("s3 snapshot repack: a commit on another server between the repack's mark and its doom loses nothing", async () => {
  const reports: ChunkGcReport[] = [];
  let racing: (() => Promise<void>) | undefined;
  await using a = await openS3({
    ...SNAPSHOT_ENGINE,
    gc: {
      ...recording(reports),
      // The copies are indexed, the old packs not doomed yet: another server commits then.
      onStep: async (step) => {
        if (step !== "rewritten" || !racing) return;
        const race = racing;
        racing = undefined;
        await race();
      },
    },
  });
  await using b = await openS3(SNAPSHOT_ENGINE, a.prefix);
  const layout = await storeLayout(a);
  const { all, kept, junk, keeps } = layout;
  // A dead tree of the pack the first repack moves (with `kept`): B is told it is stored, and its
  // commit relies on everything below it (the 8 dead blobs) from the old packs.
  const junkPack = await packsHolding(a, [junk.id]);
  const fresh = dataBlob(noise(400, 2 * 1024));
  const root = treeBlob([kept.id, junk.id, fresh.id], "racing");
  for (const blob of [fresh, root]) all.set(toHex(blob.id), blob);
  let answered: boolean[] | undefined;
  let committed: { missing: Uint8Array[] } | undefined;
  racing = async () => {
    const session = b.storage.snapshots!.openSession(USER);
    answered = await session.missing([kept.id, junk.id, keeps[0].id]);
    await session.put(fresh);
    await session.put(root);
    committed = await session.commit(snapshotOf(root, "racing"));
    await session.close();
  };
  await pruneUntil(a.storage, reports, (r) => (r.snapshotPacksRepacked ?? 0) > 0, "a repack");
  assert.deepEqual(answered, [false, false, false], "B was told all three are stored");
  assert.deepEqual(committed, { missing: [] }, "B's commit relied on them");
  const doomed = await doomedPacks(a);
  assert.ok([...junkPack].every((pack) => doomed.has(pack)), "the dead tree's pack was repacked");

  const start = Date.now();
  await pruneUntil(a.storage, reports, () => Date.now() - start > 3 * FAST_GC.graceMs!, "3G");
  assert.ok(reports.some((r) => r.deletedPacks > 0), "the sweeps deleted packs");
  await using cold = await openS3(SNAPSHOT_ENGINE, a.prefix);
  // Its root, `fresh`, `junk` and the 8 blobs it names, and the kept snapshot's but its root.
  const racingBlobs = KEPT_BLOBS - 1 + 2 + 1 + LAYOUT_PACKS;
  assert.equal(await readWhole(cold.storage.snapshots!, root.id, all), racingBlobs);
  assert.equal(await readWhole(cold.storage.snapshots!, layout.keptRoot.id, all), KEPT_BLOBS);
});

for (const step of ["repacked", "rewritten"] as ChunkGcStep[]) {
  const when = step === "repacked"
    ? "after its new packs, before their index"
    : "after their index, before its tombstone";
  Deno.test(`s3 snapshot repack: a pruner killed ${when}, then a re-run, loses nothing`, async () => {
    const reports: ChunkGcReport[] = [];
    const prefix = freshPrefix();
    await using s3 = await openS3({ ...SNAPSHOT_ENGINE, gc: recording(reports) }, prefix);
    const layout = await storeLayout(s3);
    const before = await packsOf(s3.client, prefix, USER);
    await pausedPruner(prefix, step, "snapshots"); // asserts that it paused with blobs copied
    const copies = [...await packsOf(s3.client, prefix, USER)].filter((p) => !before.has(p));
    assert.ok(copies.length > 0, "its new packs were written");
    const indexes = await keysUnder(s3.client, `${prefix}x/${USER}/snap.`);
    const copiesIndexed = indexes.some(({ key }) =>
      key.includes(copies[0].split("/")[2].split(".")[0])
    );
    assert.equal(copiesIndexed, step === "rewritten");
    // Earlier runs doomed the forgotten root's pack (nothing live): none a pack with a live blob.
    const live = await packsHolding(s3, [layout.kept.id, ...layout.keeps.map(({ id }) => id)]);
    const doomed = await doomedPacks(s3);
    assert.deepEqual([...live].filter((pack) => doomed.has(pack)), [], "no tombstone of its own");
    await using killed = await openS3(SNAPSHOT_ENGINE, prefix);
    assert.equal(
      await readWhole(killed.storage.snapshots!, layout.keptRoot.id, layout.all),
      KEPT_BLOBS,
    );

    // The re-run takes the dead lock over once stale; the killed run's copies are collected if
    // nothing indexes them (once its pin is stale), used if something does.
    assert.deepEqual(await pruneUntilGone(s3, layout.packs), [], "the old packs are gone");
    if (step === "repacked") {
      assert.deepEqual(await pruneUntilGone(s3, copies), [], "the copies nothing indexed go");
    }
    await using cold = await openS3(SNAPSHOT_ENGINE, prefix);
    assert.equal(
      await readWhole(cold.storage.snapshots!, layout.keptRoot.id, layout.all),
      KEPT_BLOBS,
    );
    assert.equal((await keysUnder(s3.client, `${prefix}g/pins/`)).length, 0, "no pin left");
  });
}
