/**
 * Merging a user's snapshot index objects on Swift (`storage/s3/snapshot_index_merge.ts`), G = 5 s
 * and a bound of 4: once a user has more, a GC run writes their entries again as one object, a run
 * G later deletes the merged ones; every snapshot then reads whole and `missing` answers every blob
 * stored, on a server started before the merge and on one started after.
 */
import assert from "node:assert/strict";
import { toHex } from "../../common/hex.ts";
import type { ChunkGcReport } from "../../storage/s3/options.ts";
import type { IncomingBlob, SnapshotRepository } from "../../storage/snapshots.ts";
import { dataBlob, noise, treeBlob } from "../_snapshots.ts";
import { pruneUntil, recording } from "./_gc.ts";
import { keysUnder, openS3, type TestS3 } from "./_s3_storage.ts";
import { backup, type Blobs, readWhole, SNAPSHOT_ENGINE, USER } from "./_snapshot_repack.ts";

// The client's keep-alive sockets outlive a test by design: only ops are checked.
Deno.test.sanitizer({ ops: true, resources: false });

const SNAPSHOTS = 6;

async function indexObjects(s3: TestS3): Promise<string[]> {
  return (await keysUnder(s3.client, `${s3.prefix}x/${USER}/snap.`)).map(({ key }) => key);
}

/** Asserts every snapshot reads whole and a session is told every blob is stored. */
async function assertAllThere(snapshots: SnapshotRepository, roots: IncomingBlob[], all: Blobs) {
  for (const root of roots) assert.equal(await readWhole(snapshots, root.id, all), 3);
  const session = snapshots.openSession(USER);
  try {
    const ids = [...all.values()].map((blob) => blob.id);
    assert.deepEqual(await session.missing(ids), ids.map(() => false), "every blob is stored");
  } finally {
    await session.close();
  }
}

Deno.test("s3 snapshot index merge: a user's many index objects become one, reads and missing still find every blob", async () => {
  const reports: ChunkGcReport[] = [];
  // No repack: the pack whose copy of `shared` the index does not keep is mostly dead, and a
  // repack of it G after its store wrote an index object of its own beside the merged one (a CI
  // run saw 2 objects where the merge leaves 1).
  const gc = { ...recording(reports), mergeSnapshotIndexesAbove: 4, repackBelow: 0 };
  await using s3 = await openS3({ ...SNAPSHOT_ENGINE, gc });
  // Started before the merge: its cache read the objects merged.
  await using early = await openS3(SNAPSHOT_ENGINE, s3.prefix);
  const all: Blobs = new Map();
  const roots: IncomingBlob[] = [];
  let previous: IncomingBlob | undefined;
  for (let i = 0; i < SNAPSHOTS; i++) {
    const data = dataBlob(noise(600 + i, 8 * 1024));
    const root = treeBlob([data.id, ...previous ? [previous.id] : []], `m${i}`);
    for (const blob of [data, root]) all.set(toHex(blob.id), blob);
    const session = s3.storage.snapshots!.openSession(USER);
    await backup(session, [data, root], root, all);
    await session.close();
    roots.push(root);
    previous = data;
  }
  // Two sessions at once store one blob: two places of one id, which a merged object holds once.
  const shared = dataBlob(noise(700, 4 * 1024));
  const sharers = ["sa", "sb"].map((name) => treeBlob([shared.id], name));
  for (const blob of [shared, ...sharers]) all.set(toHex(blob.id), blob);
  const both = sharers.map(() => s3.storage.snapshots!.openSession(USER));
  for (const session of both) assert.deepEqual(await session.missing([shared.id]), [true]);
  for (const session of both) await session.put(shared);
  for (const [i, session] of both.entries()) {
    await backup(session, [sharers[i]], sharers[i], all);
    await session.close();
  }
  // The first snapshot names one data blob, the others two: those are read whole below.
  const first = await indexObjects(s3);
  assert.ok(first.length >= SNAPSHOTS, `${first.length} index objects`);
  for (const root of roots.slice(1)) {
    assert.equal(await readWhole(early.storage.snapshots!, root.id, all), 3);
  }

  const merged = await pruneUntil(
    s3.storage,
    reports,
    (r) => (r.snapshotIndexesMerged ?? 0) > 0,
    "a merge",
  );
  assert.equal(merged.snapshotIndexesMerged, first.length);
  assert.equal(merged.snapshotIndexesWritten, 1);
  await pruneUntil(s3.storage, reports, (r) => (r.snapshotIndexesDeleted ?? 0) > 0, "G later");
  const now = await indexObjects(s3);
  assert.equal(now.length, 1, `${now.length} index objects: ${now}`);
  assert.ok(!first.includes(now[0]), "the merged one is new");

  await assertAllThere(early.storage.snapshots!, roots.slice(1), all);
  await using cold = await openS3(SNAPSHOT_ENGINE, s3.prefix);
  await assertAllThere(cold.storage.snapshots!, roots.slice(1), all);
  for (const root of sharers) {
    assert.equal(await readWhole(cold.storage.snapshots!, root.id, all), 2);
  }
  assert.equal((await keysUnder(s3.client, `${s3.prefix}g/merges/`)).length, 0, "no manifest");
  assert.ok(
    (await keysUnder(s3.client, `${s3.prefix}t/${USER}/`)).length >= 1,
    "the references objects stay",
  );
});
