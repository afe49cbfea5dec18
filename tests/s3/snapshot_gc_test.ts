/**
 * Garbage collection of snapshots on Swift (`storage/s3/snapshot_mark.ts` inside `chunk_gc.ts`),
 * with G = 5 s: what only a forgotten snapshot named goes, what another snapshot shares stays, and
 * no snapshot packs go while snapshots name them; then the race across two servers on one bucket:
 * server A commits snapshots that reuse trees and blobs of snapshots it forgets and of a run it
 * interrupted, some sessions held open past the pin interval, while server B collects in a loop;
 * after 3G more of collection, a third engine with cold caches reads every snapshot kept, whole;
 * and the rule that makes it safe, alone: a dead tree told present to a session keeps what it names
 * (a walk from the live snapshots only, even at pack granularity, loses that blob).
 */
import assert from "node:assert/strict";
import { toHex } from "../../common/hex.ts";
import type { ChunkGcReport } from "../../storage/s3/options.ts";
import { type IncomingBlob, NoSuchBlobError } from "../../storage/snapshots.ts";
import { dataBlob, noise, snapshotOf, treeBlob } from "../_snapshots.ts";
import { FAST_GC, packsOf, pruneUntil, recording } from "./_gc.ts";
import { keysUnder, openS3 } from "./_s3_storage.ts";
import { backup, readWhole, USER } from "./_snapshot_repack.ts";

// The client's keep-alive sockets outlive a test by design: only ops are checked.
Deno.test.sanitizer({ ops: true, resources: false });

const KiB = 1024;
const BASE = { chunkFiles: true, packTargetBytes: 32 * KiB, blobGraceMs: 1000 };
const RACE_MS = Number(Deno.env.get("S3_SNAPSHOT_RACE_MS") ?? 16_000);
/** Rounds between a sub-tree's snapshot and a later one naming that sub-tree again. */
const REUSE = 4;

Deno.test("s3 snapshot gc: a forgotten snapshot's own packs go, what another shares stays", async () => {
  const reports: ChunkGcReport[] = [];
  await using s3 = await openS3({ ...BASE, gc: recording(reports) });
  const snapshots = s3.storage.snapshots!;
  const all = new Map<string, IncomingBlob>();
  const keep = (...blobs: IncomingBlob[]) => blobs.forEach((b) => all.set(toHex(b.id), b));
  const shared = dataBlob(noise(1, 40 * KiB));
  const kept = treeBlob([shared.id], "kept");
  keep(shared, kept);
  const first = snapshots.openSession(USER);
  await backup(first, [shared, kept], kept, all);
  await first.close();
  const keptPacks = await packsOf(s3.client, s3.prefix, USER);
  // Each session indexes its packs as they are stored, and the rest at the commit: how many
  // index and references objects that makes depends on when its packs were answered.
  const snapObjects = async () =>
    new Set(
      [
        ...await keysUnder(s3.client, `${s3.prefix}t/${USER}/`),
        ...await keysUnder(s3.client, `${s3.prefix}x/${USER}/snap.`),
      ].map(({ key }) => key),
    );
  const keptObjects = await snapObjects();
  const own = dataBlob(noise(2, 40 * KiB));
  const forgotten = treeBlob([own.id, shared.id], "forgotten");
  keep(own, forgotten);
  const second = snapshots.openSession(USER);
  const forgottenId = await backup(second, [own, shared, forgotten], forgotten, all);
  await second.close();
  const ownObjects = [...await snapObjects()].filter((key) => !keptObjects.has(key));
  assert.ok(ownObjects.length >= 2, `${ownObjects.length} objects: an index and a references`);
  const ownPacks = [...await packsOf(s3.client, s3.prefix, USER)].filter((p) => !keptPacks.has(p));
  assert.ok(ownPacks.length > 0);

  // Past G, both snapshots name their packs: nothing is doomed.
  const start = Date.now();
  await pruneUntil(s3.storage, reports, () => Date.now() - start > 2 * FAST_GC.graceMs!, "2G");
  assert.equal(reports.reduce((sum, r) => sum + r.doomedPacks, 0), 0, "nothing doomed");

  await snapshots.forgetSnapshot(USER, forgottenId);
  // The tree's pack first; what it named once that pack is deleted (a cascade, G apart).
  const after = reports.length;
  const deleted = () => reports.slice(after).reduce((sum, r) => sum + r.deletedPacks, 0);
  await pruneUntil(s3.storage, reports, () => deleted() >= ownPacks.length, "the sweeps", 60_000);
  assert.equal(deleted(), ownPacks.length);
  const objects = reports.slice(after).reduce((sum, r) => sum + (r.snapshotObjectsDeleted ?? 0), 0);
  assert.equal(objects, ownObjects.length, "its index and references objects go");
  const now = await packsOf(s3.client, s3.prefix, USER);
  for (const pack of ownPacks) assert.ok(!now.has(pack), `${pack} deleted`);
  for (const pack of keptPacks) assert.ok(now.has(pack), `${pack} kept`);
  await using cold = await openS3(BASE, s3.prefix);
  assert.equal(await readWhole(cold.storage.snapshots!, kept.id, all), 2);
  await assert.rejects(cold.storage.snapshots!.readBlob(USER, own.id), NoSuchBlobError);
  assert.deepEqual(await snapObjects(), keptObjects, "the kept snapshot's objects stay");
});

Deno.test("s3 snapshot gc: commits racing collection on another server lose nothing", async () => {
  const reports: ChunkGcReport[] = [];
  await using a = await openS3({ ...BASE, gc: FAST_GC });
  await using b = await openS3({ ...BASE, gc: recording(reports) }, a.prefix);
  const all = new Map<string, IncomingBlob>();
  const keep = (...blobs: IncomingBlob[]) => blobs.forEach((x) => all.set(toHex(x.id), x));
  // An interrupted run: its blobs are indexed, no snapshot names them.
  const base = Array.from({ length: 4 }, (_, i) => dataBlob(noise(1000 + i, 20 * KiB)));
  const baseTree = treeBlob(base.map((blob) => blob.id), "base");
  keep(...base, baseTree);
  const interrupted = a.storage.snapshots!.openSession(USER);
  for (const blob of [...base, baseTree]) await interrupted.put(blob);
  await interrupted.close();

  let racing = true;
  const collector = (async () => {
    while (racing) await b.storage.prune();
  })();
  const live: { id: Uint8Array; tree: Uint8Array }[] = [];
  const subs: IncomingBlob[] = [];
  const freshes: IncomingBlob[][] = [];
  const keepers: IncomingBlob[] = [];
  const deadline = Date.now() + RACE_MS;
  try {
    for (let round = 0; Date.now() < deadline; round++) {
      const fresh = Array.from({ length: 3 }, (_, i) => dataBlob(noise(round * 10 + i, 12 * KiB)));
      freshes.push(fresh);
      // A sub-tree names this round's data, a blob of a snapshot forgotten long ago (its pack
      // old enough to be doomed), and in two rounds of four the sub-tree of a snapshot forgotten
      // REUSE rounds ago, which names no sub-tree itself. A keeper blob that every later root
      // names shares the sub-tree's pack: that pack stays, and its dead sub-tree is answered
      // present to a later round, which relies on what it names from then on.
      const old = round >= 2 * REUSE ? [freshes[round - 2 * REUSE][0]] : [];
      const reused = round >= REUSE && round % 4 >= 2 ? [subs[round - REUSE]] : [];
      const sub = treeBlob([...fresh, ...old, ...reused].map((blob) => blob.id), `s${round}`);
      subs.push(sub);
      const keeper = dataBlob(noise(round + 500_000, 1 * KiB));
      keepers.push(keeper);
      // Garbage once the snapshot is forgotten, in packs of their own: the first blob sent fills
      // one, a filler closes the sub-tree's, the root comes alone.
      const scratch = dataBlob(noise(round + 700_000, 40 * KiB));
      const filler = dataBlob(noise(round + 900_000, 32 * KiB));
      const named = [sub, baseTree, scratch, filler, ...keepers];
      const root = treeBlob(named.map((blob) => blob.id), `r${round}`);
      keep(...fresh, sub, keeper, scratch, filler, root);
      const session = a.storage.snapshots!.openSession(USER);
      // Every third session stays open past the pin interval between its puts and its commit.
      const slow = round % 3 === 0 ? () => waitMs(FAST_GC.pinIntervalMs! * 2) : undefined;
      const blobs = [scratch, ...reused, ...old, ...fresh, sub, keeper, filler, root, baseTree];
      const id = await backup(session, blobs, root, all, slow);
      await session.close();
      live.push({ id, tree: root.id });
      // Forget all but the last two: their trees and blobs become garbage.
      while (live.length > 2) await a.storage.snapshots!.forgetSnapshot(USER, live.shift()!.id);
    }
  } finally {
    racing = false;
    await collector;
  }
  const start = Date.now();
  // 3G: whatever the race left doomed is swept, and what that freed is doomed and swept too.
  await pruneUntil(b.storage, reports, () => Date.now() - start > 3 * FAST_GC.graceMs!, "3G");
  assert.ok(reports.some((r) => r.deletedPacks > 0), "collection deleted packs meanwhile");
  await using cold = await openS3(BASE, a.prefix);
  for (const { tree } of live) assert.ok(await readWhole(cold.storage.snapshots!, tree, all) > 5);
});

function waitMs(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

Deno.test("s3 snapshot gc: a dead tree answered present keeps what it names for the commit that relies on it", async () => {
  const reports: ChunkGcReport[] = [];
  await using s3 = await openS3({ ...BASE, gc: recording(reports) });
  const snapshots = s3.storage.snapshots!;
  const all = new Map<string, IncomingBlob>();
  const keep = (...blobs: IncomingBlob[]) => blobs.forEach((b) => all.set(toHex(b.id), b));
  // D fills a pack of its own; the tree T naming it comes in a pack written G later.
  const d = dataBlob(noise(7, 40 * KiB));
  const first = treeBlob([d.id], "first");
  const t = treeBlob([d.id], "t");
  const second = treeBlob([t.id], "second");
  const third = treeBlob([t.id], "third");
  keep(d, first, t, second, third);
  const one = snapshots.openSession(USER);
  const firstId = await backup(one, [d, first], first, all);
  await one.close();
  let start = Date.now();
  await pruneUntil(s3.storage, reports, () => Date.now() - start > FAST_GC.graceMs! + 2000, "G");
  const two = snapshots.openSession(USER);
  const secondId = await backup(two, [d, t, second], second, all);
  await two.close();
  // Both forgotten: D's pack is old enough to doom, T's is young, and nothing names either.
  await snapshots.forgetSnapshot(USER, firstId);
  await snapshots.forgetSnapshot(USER, secondId);
  // A session is told T is there (its pack is not doomed) and relies on D from then on.
  const three = snapshots.openSession(USER);
  assert.deepEqual(await three.missing([t.id]), [false]);
  start = Date.now();
  await pruneUntil(s3.storage, reports, () => Date.now() - start > 3 * FAST_GC.graceMs!, "3G");
  await three.put(third);
  assert.deepEqual(await three.commit(snapshotOf(third, "third")), { missing: [] });
  await three.close();
  await using cold = await openS3(BASE, s3.prefix);
  assert.equal(await readWhole(cold.storage.snapshots!, third.id, all), 3);
});
