/**
 * A user's Prune on Swift (`S3SnapshotStore.prune`, with G = 5 s): it runs the bucket's garbage
 * collection under the prune lock and answers what the user's listed usage dropped by, so prunes
 * after a forget free the forgotten snapshot's own pack (doomed by one run, deleted by a run G
 * later) and keep what another snapshot shares; while another server holds the lock, a prune is
 * refused with `PruneBusyError`; a loop of prunes costs one run a gap, a burst one run
 * (DropBlobs on S3: `snapshot_drop_blobs_test.ts`).
 */
import assert from "node:assert/strict";
import { toHex } from "../../common/hex.ts";
import {
  type IncomingBlob,
  NoSuchBlobError,
  PruneBusyError,
  type SnapshotSession,
} from "../../storage/snapshots.ts";
import { dataBlob, noise, snapshotOf, treeBlob } from "../_snapshots.ts";
import type { ChunkGcReport } from "../../storage/s3/options.ts";
import { FAST_GC, recording } from "./_gc.ts";
import { openS3 } from "./_s3_storage.ts";

// The client's keep-alive sockets outlive a test by design: only ops are checked.
Deno.test.sanitizer({ ops: true, resources: false });

const KiB = 1024;
const USER = 6;
// No gap between prunes: the first test prunes in a loop until the sweep G later has freed.
const BASE = {
  chunkFiles: true,
  packTargetBytes: 32 * KiB,
  blobGraceMs: 1000,
  gc: FAST_GC,
  pruneGapMs: 0,
};

async function commit(session: SnapshotSession, blobs: IncomingBlob[], root: IncomingBlob) {
  const lacking = await session.missing(blobs.map((blob) => blob.id));
  for (const [i, blob] of blobs.entries()) if (lacking[i]) await session.put(blob);
  const snapshot = snapshotOf(root, toHex(root.id));
  assert.deepEqual(await session.commit(snapshot), { missing: [] });
  await session.close();
  return snapshot.id;
}

Deno.test("s3 prune: prunes after a forget free the forgotten snapshot's own pack; shared blobs stay", async () => {
  await using s3 = await openS3(BASE);
  const snapshots = s3.storage.snapshots!;
  const shared = dataBlob(noise(1, 40 * KiB));
  const kept = treeBlob([shared.id], "kept");
  await commit(snapshots.openSession(USER), [shared, kept], kept);
  const own = dataBlob(noise(2, 40 * KiB));
  const forgotten = treeBlob([own.id, shared.id], "forgotten");
  const forgottenId = await commit(snapshots.openSession(USER), [own, forgotten], forgotten);
  await snapshots.forgetSnapshot(USER, forgottenId);

  let freed = 0;
  let packs = 0;
  const deadline = Date.now() + 60_000;
  // Each prune is a whole run that waits for its own requests: the doom, then the sweep G later.
  while (freed < own.bytes.length && Date.now() < deadline) {
    const report = await snapshots.prune(USER).catch((error) => {
      // A run that lost the lock to a slow PUT or a lagging listing: the next one tries again.
      if (error instanceof PruneBusyError) return { bytesFreed: 0, packsRemoved: 0 };
      throw error;
    });
    freed += report.bytesFreed;
    packs += report.packsRemoved;
  }
  assert.ok(freed >= own.bytes.length, `freed ${freed}`);
  assert.ok(packs >= 1, "the forgotten snapshot's pack went");
  await assert.rejects(snapshots.readBlob(USER, own.id), NoSuchBlobError);
  assert.equal((await snapshots.readBlob(USER, shared.id)).rawLength, shared.rawLength);
});

Deno.test("s3 prune: refused while another server holds the prune lock", async () => {
  let held = false;
  let entered!: () => void;
  const inside = new Promise<void>((resolve) => entered = resolve);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => release = resolve);
  await using a = await openS3(BASE);
  await using b = await openS3({
    ...BASE,
    gc: {
      ...FAST_GC,
      onStep: async (step) => {
        if (step !== "marked") return;
        held = true;
        entered();
        await gate;
      },
    },
  }, a.prefix);
  // A run that did not get the lock (a slow PUT, a listing that lags) tries again.
  const holding = (async () => {
    while (!held) await b.storage.prune();
  })();
  await inside;
  try {
    const error = await a.storage.snapshots!.prune(USER).then(() => undefined, (e) => e);
    assert.ok(error instanceof PruneBusyError, String(error));
    assert.match(error.message, /another server holds the bucket's prune lock/);
  } finally {
    release();
    await holding;
  }
});

Deno.test("s3 prune: a loop of prunes runs one collection a gap; a forget or a burst one more", async () => {
  const reports: ChunkGcReport[] = [];
  let now = 0;
  await using s3 = await openS3({
    ...BASE,
    gc: recording(reports),
    pruneGapMs: 60_000,
    now: () => Date.now() + now,
  });
  const snapshots = s3.storage.snapshots!;
  await s3.storage.settled(); // the run at open
  const runs = () => reports.length;
  const blob = dataBlob(noise(3, 4 * KiB));
  const root = treeBlob([blob.id], "one");
  const id = await commit(snapshots.openSession(USER), [blob, root], root);

  const first = runs();
  for (let i = 0; i < 20; i++) await snapshots.prune(USER);
  assert.equal(runs(), first + 1, "20 prunes in a row: one run");

  await snapshots.forgetSnapshot(USER, id);
  await Promise.all(Array.from({ length: 8 }, () => snapshots.prune(USER)));
  assert.equal(runs(), first + 2, "a forget, then 8 prunes at once: one run more");
  await snapshots.prune(USER);
  assert.equal(runs(), first + 2);

  now += 60_000; // the gap has passed (another server's forget is seen by then)
  await snapshots.prune(USER);
  assert.equal(runs(), first + 3);
});
