/**
 * The embedded snapshot repository (`storage/embedded/snapshot_store.ts`, docs/snapshots_plan.md
 * §3) on real temp roots: blobs checked against their ids, commits only of complete snapshots, the
 * blobs of an interrupted run kept for the next one, garbage collection of what nothing references
 * (and of nothing a session relies on), the quota.
 */
import assert from "node:assert/strict";
import { decodeBlob } from "../repository/blob_codec.ts";
import { outcomeForError } from "../server/error_status.ts";
import { RefusalCode } from "../protocol/v2/constants.ts";
import { chunksOf } from "../harness/stored.ts";
import { verifyRoot } from "../storage/embedded/verify.ts";
import { BLOB_OVERHEAD_BYTES } from "../storage/quota_charge.ts";
import { snapshotCharge } from "../storage/embedded/schema_snapshots.ts";
import { QuotaExceededError } from "../storage/errors.ts";
import {
  BlobMismatchError,
  DEFAULT_BLOB_GRACE_MS,
  type IncomingBlob,
  NoSuchBlobError,
  NoSuchSnapshotError,
  type SnapshotRepository,
} from "../storage/snapshots.ts";
import { toHex } from "../common/hex.ts";
import { generatedText, getBytes, KiB, openTempStorage, put, rowCount } from "./_repository.ts";
import { dataBlob, noise, sameBytes, sha256, snapshotOf, treeBlob } from "./_snapshots.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const T0 = 1_790_000_000_000;

async function listed(snapshots: SnapshotRepository, userId: number): Promise<string[]> {
  const ids: string[] = [];
  for await (const snapshot of snapshots.listSnapshots(userId)) ids.push(toHex(snapshot.id));
  return ids;
}

async function assertVerifies(root: string): Promise<void> {
  const report = await verifyRoot({ root, data: "all" });
  assert.deepEqual(report.problems, [], "verify finds nothing wrong");
}

/** The raw bytes of a stored blob, decoded. */
async function readRaw(snapshots: SnapshotRepository, userId: number, id: Uint8Array) {
  const blob = await snapshots.readBlob(userId, id);
  return decodeBlob(blob.bytes, blob.encoding === "zstd" ? "zstd" : "none", blob.rawLength);
}

Deno.test("put, missing and read round trip: ids checked, a wrong id refused with nothing stored", async () => {
  await using t = await openTempStorage({ now: () => T0 });
  const snapshots = t.storage.snapshots;
  const plain = dataBlob(noise(1, 40 * KiB));
  const text = dataBlob(generatedText(2, 200 * KiB), true);
  assert.equal(text.encoding, "zstd");
  const session = snapshots.openSession(1);
  assert.deepEqual(await session.missing([plain.id, text.id]), [true, true]);
  await session.put(plain);
  await session.put(text);
  await session.put(plain); // again: acknowledged, not stored twice
  assert.deepEqual(await session.missing([plain.id, text.id]), [false, false], "the session's own");

  // Bytes that do not hash to the id sent: refused, and nothing of them is stored.
  const other = noise(3, 10 * KiB);
  const lying: IncomingBlob = { ...dataBlob(other), id: sha256(noise(4, 10)) };
  await assert.rejects(session.put(lying), BlobMismatchError);
  const badFrame: IncomingBlob = { ...text, id: sha256(other) };
  await assert.rejects(session.put(badFrame), BlobMismatchError);
  await assert.rejects(
    session.put({ ...plain, rawLength: plain.rawLength + 1 }),
    BlobMismatchError,
  );
  assert.deepEqual(await session.missing([lying.id, sha256(other)]), [true, true]);

  const tree = treeBlob([plain.id, text.id]);
  await session.put(tree);
  assert.deepEqual(await session.commit(snapshotOf(tree)), { missing: [] });
  await session.close();

  assert.equal(rowCount(t.root, "blobs"), 3, "the two chunks and the tree, nothing of the lies");
  assert.ok(sameBytes(await readRaw(snapshots, 1, plain.id), noise(1, 40 * KiB)));
  assert.ok(sameBytes(await readRaw(snapshots, 1, text.id), generatedText(2, 200 * KiB)));
  const stored = await snapshots.readBlob(1, tree.id);
  assert.equal(stored.kind, "tree");
  assert.ok(sameBytes(stored.bytes, tree.bytes));
  assert.equal((await snapshots.readBlob(1, text.id)).encoding, "zstd");
  await assert.rejects(snapshots.readBlob(1, sha256(other)), NoSuchBlobError);
  await assert.rejects(snapshots.readBlob(2, plain.id), NoSuchBlobError, "another user's");
  await assertVerifies(t.root);
});

Deno.test("a commit with a missing reference answers those ids and commits nothing; sent, it commits", async () => {
  await using t = await openTempStorage({ now: () => T0 });
  const snapshots = t.storage.snapshots;
  const session = snapshots.openSession(1);
  const sent = dataBlob(noise(10, 4 * KiB));
  const notSent = dataBlob(noise(11, 4 * KiB));
  const subtree = treeBlob([notSent.id], "sub");
  const root = treeBlob([sent.id, subtree.id], "root");
  await session.put(sent);
  await session.put(root); // before its subtree: a tree may come before what it names

  const absentRoot = treeBlob([sent.id], "never sent");
  assert.deepEqual(
    (await session.commit(snapshotOf(absentRoot))).missing.map(toHex),
    [toHex(absentRoot.id)],
    "a root the store lacks",
  );
  assert.deepEqual(
    (await session.commit(snapshotOf(root))).missing.map(toHex),
    [toHex(subtree.id)],
  );
  await session.put(subtree);
  assert.deepEqual((await session.commit(snapshotOf(root))).missing.map(toHex), [
    toHex(notSent.id),
  ]);
  assert.deepEqual(await listed(snapshots, 1), [], "nothing committed");
  await assert.rejects(
    session.commit({ ...snapshotOf(root), id: sha256(new Uint8Array(1)) }),
    BlobMismatchError,
    "a record that does not hash to the id",
  );

  await session.put(notSent);
  assert.deepEqual(await session.commit(snapshotOf(root)), { missing: [] });
  await session.close();
  assert.deepEqual(await listed(snapshots, 1), [toHex(snapshotOf(root).id)]);
  assert.equal(rowCount(t.root, "blobs"), 4);
  await assertVerifies(t.root);
});

Deno.test("commit then list: each user's snapshots in the order stored, records as sent", async () => {
  let now = T0;
  await using t = await openTempStorage({ now: () => now });
  const snapshots = t.storage.snapshots;
  const commits = [];
  for (const [userId, label] of [[1, "first"], [2, "other user"], [1, "second"]] as const) {
    const session = snapshots.openSession(userId);
    const chunk = dataBlob(noise(20 + commits.length, 2 * KiB));
    const tree = treeBlob([chunk.id], label);
    await session.put(chunk);
    await session.put(tree);
    const snapshot = snapshotOf(tree, label);
    assert.deepEqual(await session.commit(snapshot), { missing: [] });
    assert.deepEqual(await session.commit(snapshot), { missing: [] }, "again: already there");
    await session.close();
    commits.push({ userId, snapshot, storedMs: now });
    now += 60_000;
  }
  const mine = [];
  for await (const snapshot of snapshots.listSnapshots(1)) mine.push(snapshot);
  assert.deepEqual(
    mine.map((s) => ({ id: toHex(s.id), tree: toHex(s.tree), at: s.storedMs, record: s.record })),
    commits.filter((c) => c.userId === 1).map(({ snapshot, storedMs }) => ({
      id: toHex(snapshot.id),
      tree: toHex(snapshot.tree),
      at: storedMs,
      record: snapshot.record,
    })),
  );
  assert.deepEqual(await listed(snapshots, 2), [toHex(commits[1].snapshot.id)]);
  assert.deepEqual(await listed(snapshots, 3), []);
});

Deno.test("stored times rise strictly per user, also within one millisecond or with a clock that steps back", async () => {
  let now = T0;
  await using t = await openTempStorage({ now: () => now });
  const snapshots = t.storage.snapshots;
  for (let i = 0; i < 6; i++) {
    const session = snapshots.openSession(1);
    const tree = treeBlob([], `same ms ${i}`);
    await session.put(tree);
    assert.deepEqual(await session.commit(snapshotOf(tree, `${i}`)), { missing: [] });
    await session.close();
    if (i === 3) now -= 5_000; // the clock steps back
  }
  const times = [];
  for await (const snapshot of snapshots.listSnapshots(1)) times.push(snapshot.storedMs);
  assert.deepEqual(times, [T0, T0 + 1, T0 + 2, T0 + 3, T0 + 4, T0 + 5]);
});

Deno.test("a session closed without a commit: the next session (after a restart too) finds its blobs", async () => {
  const root = await Deno.makeTempDir({ prefix: "backup-snapshots-" });
  try {
    const chunks = [0, 1, 2].map((i) => dataBlob(noise(30 + i, 20 * KiB)));
    const tree = treeBlob(chunks.map((chunk) => chunk.id));
    {
      // Packs of about two chunks: one is indexed while the session runs, the rest at its close.
      await using t = await openTempStorage({ root, now: () => T0, packTargetBytes: 30 * KiB });
      const session = t.storage.snapshots.openSession(1);
      for (const chunk of chunks) await session.put(chunk);
      await session.put(tree);
      await session.close(); // the client went away
      const next = t.storage.snapshots.openSession(1);
      assert.deepEqual(await next.missing([...chunks, tree].map((b) => b.id)), [
        false,
        false,
        false,
        false,
      ]);
      await next.close();
      const charged = [...chunks, tree].reduce((sum, b) => sum + b.bytes.length, 0) +
        4 * BLOB_OVERHEAD_BYTES;
      assert.equal(await t.storage.usage(1), charged, "kept blobs count against the quota");
    }
    await using t = await openTempStorage({ root, now: () => T0 });
    const session = t.storage.snapshots.openSession(1);
    assert.deepEqual(
      await session.missing([...chunks, tree].map((b) => b.id)),
      [false, false, false, false],
    );
    assert.deepEqual(await session.commit(snapshotOf(tree)), { missing: [] }, "nothing resent");
    await session.close();
    assert.equal(await listed(t.storage.snapshots, 1).then((ids) => ids.length), 1);
    await assertVerifies(root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("forget and collect: exactly what nothing else names goes (a chunk of a v2 file stays)", async () => {
  let now = T0;
  await using t = await openTempStorage({ now: () => now, retention: { keepDays: 0 } });
  const snapshots = t.storage.snapshots;
  const file = generatedText(40, 300 * KiB);
  await put(t.storage, 1, "shared.txt", file);
  const [shared] = chunksOf(t.root, 1, "shared.txt");
  const mine = dataBlob(noise(41, 8 * KiB));
  const both = dataBlob(noise(42, 8 * KiB));
  const deep = dataBlob(noise(43, 8 * KiB));
  const sub = treeBlob([deep.id], "sub");
  const root1 = treeBlob([shared.id, mine.id, both.id, sub.id], "first");
  const root2 = treeBlob([both.id], "second");
  const session = snapshots.openSession(1);
  assert.deepEqual(await session.missing([shared.id]), [false], "the v2 file's chunk is there");
  for (const blob of [mine, both, deep, sub, root1, root2]) await session.put(blob);
  assert.deepEqual(await session.commit(snapshotOf(root1)), { missing: [] });
  assert.deepEqual(await session.commit(snapshotOf(root2)), { missing: [] });
  await session.close();
  const usageBoth = await t.storage.usage(1);

  await assert.rejects(
    snapshots.forgetSnapshot(1, sha256(new Uint8Array(3))),
    NoSuchSnapshotError,
  );
  await snapshots.forgetSnapshot(1, snapshotOf(root1).id);
  assert.deepEqual(await listed(snapshots, 1), [toHex(snapshotOf(root2).id)]);
  const report = await t.storage.collectGarbage();
  assert.equal(report.chunksRemoved, 4, "root1, sub, deep and mine");

  const check = snapshots.openSession(1);
  const ids = [shared.id, mine.id, both.id, deep.id, sub.id, root1.id, root2.id];
  assert.deepEqual(await check.missing(ids), [false, true, false, true, true, true, false]);
  await check.close();
  assert.ok(sameBytes(await getBytes(t.storage, 1, "shared.txt"), file), "the v2 file reads");
  const freed = [mine, deep, sub, root1].reduce((sum, b) => sum + b.bytes.length, 0) +
    4 * BLOB_OVERHEAD_BYTES + snapshotCharge(snapshotOf(root1).record.length);
  assert.equal(await t.storage.usage(1), usageBoth - freed);
  await assertVerifies(t.root);

  // A run that never committed: its blobs stay for the grace period, then go.
  const interrupted = snapshots.openSession(1);
  const orphan = dataBlob(noise(44, 8 * KiB));
  await interrupted.put(orphan);
  await interrupted.close();
  now += DEFAULT_BLOB_GRACE_MS - 1;
  assert.equal((await t.storage.collectGarbage()).chunksRemoved, 0, "within the grace period");
  now += 2;
  assert.equal((await t.storage.collectGarbage()).chunksRemoved, 1, "past it");
  assert.equal(await t.storage.usage(1), usageBoth - freed);
  await assertVerifies(t.root);
});

Deno.test("collection during an open session keeps what the session was told is there for the grace period; past it a commit answers 234 and a resend commits", async () => {
  let now = T0;
  await using t = await openTempStorage({ now: () => now, packTargetBytes: 30 * KiB });
  const snapshots = t.storage.snapshots;
  const old = dataBlob(noise(50, 8 * KiB));
  const oldTree = treeBlob([old.id], "old");
  {
    const session = snapshots.openSession(1);
    await session.put(old);
    await session.put(oldTree);
    assert.deepEqual(await session.commit(snapshotOf(oldTree)), { missing: [] });
    await session.close();
  }
  now += 1000;
  const session = snapshots.openSession(1);
  const started = now;
  assert.deepEqual(await session.missing([old.id]), [false]);
  // Blobs of this session in packs indexed while it runs (packs of about one chunk).
  const fresh = [0, 1, 2].map((i) => dataBlob(noise(51 + i, 20 * KiB)));
  for (const blob of fresh) await session.put(blob);
  const ids = [old.id, ...fresh.map((b) => b.id)];
  // Its only snapshot forgotten while the session runs; the clock at the end of the grace period.
  await snapshots.forgetSnapshot(1, snapshotOf(oldTree).id);
  now = started + DEFAULT_BLOB_GRACE_MS - 1;
  assert.equal((await t.storage.collectGarbage()).chunksRemoved, 0, "within the grace period");
  assert.deepEqual(await session.missing(ids), [false, false, false, false]);
  // Past it the session pins nothing released, and its unclaimed blobs are past their grace too:
  // the forgotten tree, what it named and the session's blobs indexed so far go (those whose pack
  // is still being written stay in the session).
  now = started + DEFAULT_BLOB_GRACE_MS + 1;
  assert.ok((await t.storage.collectGarbage()).chunksRemoved >= 2);
  await assert.rejects(snapshots.readBlob(1, oldTree.id), NoSuchBlobError);
  const lacking = await session.missing(ids);
  assert.equal(lacking[0], true, "the old chunk is gone");
  const tree = treeBlob(ids, "new");
  await session.put(tree);
  // The commit's check finds what went (234 on the wire), and commits nothing; sent again, it
  // commits.
  const { missing } = await session.commit(snapshotOf(tree));
  assert.deepEqual(
    missing.map(toHex).toSorted(),
    ids.filter((_, i) => lacking[i]).map(toHex).toSorted(),
  );
  assert.deepEqual(await listed(snapshots, 1), []);
  for (const blob of [old, ...fresh]) {
    if (missing.some((id) => sameBytes(id, blob.id))) await session.put(blob);
  }
  assert.deepEqual(await session.commit(snapshotOf(tree)), { missing: [] });
  await session.close();
  assert.deepEqual(await listed(snapshots, 1), [toHex(snapshotOf(tree).id)]);
  assert.ok(sameBytes(await readRaw(snapshots, 1, old.id), noise(50, 8 * KiB)));
  for (const [i, blob] of fresh.entries()) {
    assert.ok(sameBytes(await readRaw(snapshots, 1, blob.id), noise(51 + i, 20 * KiB)));
  }
  // Once the session is over, nothing named goes; the packs of the copies that went do.
  assert.equal((await t.storage.collectGarbage()).chunksRemoved, 0);
  await assertVerifies(t.root);
});

Deno.test("quota: blobs count when indexed, snapshots by their records; a put past it is refused, nothing stored", async () => {
  const quotaBytes = 64 * KiB;
  await using t = await openTempStorage({ now: () => T0, quotaBytes });
  const snapshots = t.storage.snapshots;
  const session = snapshots.openSession(1);
  const blobs = [0, 1, 2, 3].map((i) => dataBlob(noise(60 + i, 20 * KiB)));
  for (const blob of blobs.slice(0, 3)) await session.put(blob);
  await assert.rejects(session.put(blobs[3]), QuotaExceededError);
  assert.deepEqual(await session.missing([blobs[3].id]), [true]);
  const tree = treeBlob(blobs.slice(0, 3).map((b) => b.id));
  await session.put(tree);
  assert.deepEqual(await session.commit(snapshotOf(tree)), { missing: [] });
  await session.close();
  const charged = blobs.slice(0, 3).reduce((sum, b) => sum + b.bytes.length, 0) +
    tree.bytes.length + 4 * BLOB_OVERHEAD_BYTES + snapshotCharge(snapshotOf(tree).record.length);
  assert.equal(await t.storage.usage(1), charged, "the blobs and the snapshot's record");
  assert.equal(await t.storage.usage(2), 0);
  const next = snapshots.openSession(1);
  await assert.rejects(next.put(blobs[3]), QuotaExceededError, "still over");
  await next.close();
});

Deno.test("the snapshot errors become the answers of v2's codes: not found, digest mismatch", () => {
  const id = sha256(new Uint8Array(1));
  for (const error of [new NoSuchBlobError(id), new NoSuchSnapshotError(id)]) {
    assert.deepEqual(outcomeForError(error), {
      answer: { kind: "not-found" },
      close: false,
      level: "info",
    });
  }
  const mismatch = outcomeForError(new BlobMismatchError("data blob", "its bytes hash otherwise"));
  assert.equal(mismatch.close, false, "the session goes on");
  assert.equal(
    mismatch.answer?.kind === "refused" && mismatch.answer.code,
    RefusalCode.DigestMismatch,
  );
});
