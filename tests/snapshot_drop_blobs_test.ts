/**
 * The embedded store's `dropBlobs` and `prune` (docs/keys_plan.md §6, §7), below the protocol: a
 * blob whose stored bytes are bad is dropped (a good one never), is then missing to every session,
 * and a commit whose snapshot reaches it (through trees already indexed) answers it missing until
 * a session's copy heals it, for the old snapshots too, with every count right (verify, the
 * user's charge); a file stored one by one (v2) that holds it sends it again too, and its old
 * version reads right after. A prune asked while a run is under way waits for it and runs once more, so what
 * was forgotten meanwhile is freed.
 */
import assert from "node:assert/strict";
import { REPOSITORY_DIR_NAME } from "../storage/embedded/options.ts";
import { verifyRoot } from "../storage/embedded/verify.ts";
import {
  dropDamaged,
  MAX_DROP_READ_BYTES,
  type SnapshotRepairContext,
} from "../storage/embedded/snapshot_repair.ts";
import { LimitExceededError } from "../storage/errors.ts";
import type { IncomingBlob, SnapshotRepository } from "../storage/snapshots.ts";
import { BLOB_OVERHEAD_BYTES } from "../storage/quota_charge.ts";
import { getBytes, KiB, openTempStorage, put, withIndex } from "./_repository.ts";
import { dataBlob, noise, snapshotOf, treeBlob } from "./_snapshots.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const USER = 1;

async function commitAll(snapshots: SnapshotRepository, blobs: IncomingBlob[], label: string) {
  const session = snapshots.openSession(USER);
  for (const blob of blobs) await session.put(blob);
  const snapshot = snapshotOf(blobs.at(-1)!, label);
  assert.deepEqual(await session.commit(snapshot), { missing: [] });
  await session.close();
  return snapshot.id;
}

/** Flips a byte of the user's blob in its pack. */
async function flip(root: string, id: Uint8Array): Promise<void> {
  const at = withIndex(root, (db) =>
    db.prepare(
      `SELECT b.offset, p.name FROM blobs AS b JOIN packs AS p USING (pack_no)
         WHERE b.user_id = ? AND b.id = ?`,
    ).get(USER, id) as { offset: number; name: string });
  const path = `${root}/${REPOSITORY_DIR_NAME}/${at.name}`;
  const bytes = await Deno.readFile(path);
  bytes[at.offset + 10] ^= 0x01;
  await Deno.writeFile(path, bytes);
}

/** The user's `blob_bytes`, and what its charged blobs and packs' dead bytes add up to. */
function charges(root: string): [number, number] {
  return withIndex(root, (db) => {
    const user = db.prepare("SELECT blob_bytes AS n FROM users WHERE user_id = ?").get(USER) as {
      n: number;
    };
    const blobs = db.prepare(
      `SELECT coalesce(sum(stored_length + ?), 0) AS n FROM blobs
         WHERE user_id = ? AND (refs > 0 OR unclaimed_ms IS NOT NULL)`,
    ).get(BLOB_OVERHEAD_BYTES, USER) as { n: number };
    const dead = db.prepare(
      "SELECT coalesce(sum(dropped_bytes), 0) AS n FROM packs WHERE user_id = ?",
    ).get(USER) as { n: number };
    return [user.n, blobs.n + dead.n];
  });
}

Deno.test("a dropped blob is missing until a copy heals it: a commit that reaches it answers it, old snapshots heal too", async () => {
  await using t = await openTempStorage();
  const snapshots = t.storage.snapshots!;
  const good = dataBlob(noise(1, 20 * KiB));
  const bad = dataBlob(noise(2, 20 * KiB));
  const sub = treeBlob([bad.id], "sub");
  const root = treeBlob([good.id, sub.id], "root");
  const first = await commitAll(snapshots, [good, bad, sub, root], "first");
  await flip(t.root, bad.id);

  assert.deepEqual(await snapshots.dropBlobs(USER, [good.id, bad.id, bad.id]), [bad.id]);
  assert.deepEqual(await snapshots.dropBlobs(USER, [bad.id]), [], "dropped once");
  const [charged, counted] = charges(t.root);
  assert.equal(charged, counted, "the drop uncharged its stored bytes");

  const session = snapshots.openSession(USER);
  assert.deepEqual(await session.missing([good.id, bad.id, sub.id, root.id]), [
    false,
    true,
    false,
    false,
  ]);
  // The same indexed root, a new record: the commit looks below it and finds the dropped blob.
  const second = snapshotOf(root, "second");
  assert.deepEqual(await session.commit(second), { missing: [bad.id] });
  await session.put(bad);
  assert.deepEqual(await session.commit(second), { missing: [] });
  await session.close();

  const list = [];
  for await (const snapshot of snapshots.listSnapshots(USER)) list.push(snapshot.id);
  assert.deepEqual(list, [first, second.id]);
  assert.deepEqual((await snapshots.readBlob(USER, bad.id)).bytes, bad.bytes, "healed");
  const [after, recount] = charges(t.root);
  assert.equal(after, recount);
  assert.deepEqual((await verifyRoot({ root: t.root, data: "all" })).problems, []);
});

Deno.test("a prune asked while a run is under way waits for it, then runs once more", async () => {
  let block: Promise<void> | undefined;
  let entered!: () => void;
  const inside = new Promise<void>((resolve) => entered = resolve);
  let release!: () => void;
  await using t = await openTempStorage({
    packTargetBytes: 16 * KiB,
    onGarbageStep: (step) => {
      if (step !== "empty-unindexed" || block) return;
      block = new Promise<void>((resolve) => release = resolve);
      entered();
      return block;
    },
  });
  const snapshots = t.storage.snapshots!;
  const early = dataBlob(noise(3, 30 * KiB));
  const late = dataBlob(noise(4, 30 * KiB));
  const kept = dataBlob(noise(5, 30 * KiB));
  const earlyId = await commitAll(snapshots, [early, treeBlob([early.id], "e")], "early");
  const lateId = await commitAll(snapshots, [late, treeBlob([late.id], "l")], "late");
  await commitAll(snapshots, [kept, treeBlob([kept.id], "k")], "kept");
  await snapshots.forgetSnapshot(USER, earlyId);
  const running = t.storage.collectGarbage(); // stops once it removes the early pack
  await inside;
  await snapshots.forgetSnapshot(USER, lateId);
  const before = await t.storage.usage(USER);
  const pruning = snapshots.prune(USER);
  release();
  await running;
  const report = await pruning;
  const dropped = before - await t.storage.usage(USER);
  assert.ok(dropped >= late.bytes.length, `usage dropped by ${dropped}`);
  assert.equal(report.bytesFreed, dropped);
  assert.ok(report.packsRemoved >= 1);
  assert.equal((await snapshots.readBlob(USER, kept.id)).rawLength, kept.rawLength);
});

Deno.test("a chunk of a file stored one by one, dropped as damaged: the next upload of the file sends it and heals the old version", async () => {
  await using t = await openTempStorage();
  const bytes = noise(6, 200 * KiB);
  await put(t.storage, USER, "f.bin", bytes);
  const chunk = withIndex(
    t.root,
    (db) =>
      db.prepare("SELECT id FROM blobs WHERE user_id = ? ORDER BY blob_no LIMIT 1").get(USER) as {
        id: Uint8Array;
      },
  ).id;
  await flip(t.root, chunk);
  assert.deepEqual(await t.storage.snapshots!.dropBlobs(USER, [chunk]), [chunk]);
  await put(t.storage, USER, "f.bin", bytes);
  const versions = withIndex(
    t.root,
    (db) =>
      (db.prepare("SELECT id FROM versions WHERE user_id = ? ORDER BY id").all(USER) as Array<{
        id: number;
      }>).map((row) => row.id),
  );
  assert.equal(versions.length, 2);
  for (const version of versions) {
    assert.deepEqual(await getBytes(t.storage, USER, "f.bin", version), bytes);
  }
  const [charged, counted] = charges(t.root);
  assert.equal(charged, counted);
  assert.deepEqual((await verifyRoot({ root: t.root, data: "all" })).problems, []);
});

Deno.test("a DropBlobs whose blobs add up to more than the server re-reads for one is refused before any read", async () => {
  const reads: Uint8Array[] = [];
  const ctx = {
    appendOnlyOf: () => false,
    catalog: { placement: () => ({ storedLength: 600 * 1024 * 1024 }) },
    readBlob: (_user: number, id: Uint8Array) => {
      reads.push(id);
      return Promise.reject(new Error("not read"));
    },
  } as unknown as SnapshotRepairContext;
  const ids = [new Uint8Array(32).fill(1), new Uint8Array(32).fill(2)];
  await assert.rejects(dropDamaged(ctx, USER, ids), LimitExceededError);
  assert.deepEqual(reads, []);
  assert.ok(2 * 600 * 1024 * 1024 > MAX_DROP_READ_BYTES);
});
