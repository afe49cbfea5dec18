/**
 * The embedded store's key slots (`storage/embedded/key_slots.ts`, docs/keys_plan.md §1, §2 and
 * §4): opaque records of at most 4 KiB, 16 per user, keyed by their id; never the last one
 * removed; no first slot beside plain snapshots; append-only users add but never remove; each slot
 * charged to the quota as a snapshot record; kept across a reopen.
 */
import assert from "node:assert/strict";
import { toHex } from "../common/hex.ts";
import { DeleteRefusedError, QuotaExceededError } from "../storage/errors.ts";
import { verifyRoot } from "../storage/embedded/verify.ts";
import {
  keySlotCharge,
  KeySlotConflictError,
  KeySlotLimitError,
  LastKeySlotError,
  MAX_KEY_SLOT_BYTES,
  MAX_KEY_SLOTS,
  NoSuchKeySlotError,
  PlainSnapshotsError,
} from "../storage/snapshots.ts";
import { openTempStorage, withIndex } from "./_repository.ts";
import { dataBlob, noise, snapshotOf, treeBlob } from "./_snapshots.ts";
import { fakeSlot, fakeSlotId, slotIds } from "./_key_slots.ts";
import { sealedTree } from "./_sealed_blobs.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const T0 = 1_770_000_000_000;

Deno.test("key slots: added, listed by id, removed; the same slot again is kept once, another with its id refused", async () => {
  await using t = await openTempStorage({ now: () => T0 });
  const snapshots = t.storage.snapshots;
  assert.deepEqual(await snapshots.listKeySlots(1), [], "a plain repository has none");
  await snapshots.addKeySlot(1, fakeSlot(0x20));
  await snapshots.addKeySlot(1, fakeSlot(0x10, 300));
  await snapshots.addKeySlot(1, fakeSlot(0x20)); // a retry: acknowledged
  assert.deepEqual(slotIds(await snapshots.listKeySlots(1)), [
    toHex(fakeSlotId(0x10)),
    toHex(fakeSlotId(0x20)),
  ]);
  assert.deepEqual((await snapshots.listKeySlots(1))[0], fakeSlot(0x10, 300), "as added");
  await assert.rejects(snapshots.addKeySlot(1, fakeSlot(0x20, 200, 0x77)), KeySlotConflictError);
  assert.deepEqual((await snapshots.listKeySlots(1))[1], fakeSlot(0x20), "the stored one stays");
  assert.deepEqual(await snapshots.listKeySlots(2), [], "another user sees none of them");
  await snapshots.removeKeySlot(1, fakeSlotId(0x10));
  assert.deepEqual(slotIds(await snapshots.listKeySlots(1)), [toHex(fakeSlotId(0x20))]);
  const rows = withIndex(t.root, (db) => db.prepare("SELECT count(*) AS n FROM key_slots").get());
  assert.equal((rows as { n: number }).n, 1);
});

Deno.test("key slots: over 4 KiB, shorter than an id, or a 17th are refused, nothing stored", async () => {
  await using t = await openTempStorage({ now: () => T0 });
  const snapshots = t.storage.snapshots;
  await assert.rejects(
    snapshots.addKeySlot(1, fakeSlot(1, MAX_KEY_SLOT_BYTES + 1)),
    KeySlotLimitError,
  );
  await assert.rejects(snapshots.addKeySlot(1, new Uint8Array(16)), KeySlotLimitError);
  assert.deepEqual(await snapshots.listKeySlots(1), []);
  await snapshots.addKeySlot(1, fakeSlot(1, MAX_KEY_SLOT_BYTES));
  for (let id = 2; id <= MAX_KEY_SLOTS; id++) await snapshots.addKeySlot(1, fakeSlot(id));
  await assert.rejects(snapshots.addKeySlot(1, fakeSlot(0x99)), KeySlotLimitError);
  await snapshots.addKeySlot(1, fakeSlot(2)); // one it has: still acknowledged
  assert.equal((await snapshots.listKeySlots(1)).length, MAX_KEY_SLOTS);
  await snapshots.removeKeySlot(1, fakeSlotId(2));
  await snapshots.addKeySlot(1, fakeSlot(0x99));
  assert.equal((await snapshots.listKeySlots(1)).length, MAX_KEY_SLOTS);
});

Deno.test("key slots: the last one is never removed, an unknown id is refused", async () => {
  await using t = await openTempStorage({ now: () => T0 });
  const snapshots = t.storage.snapshots;
  await assert.rejects(snapshots.removeKeySlot(1, fakeSlotId(1)), NoSuchKeySlotError);
  await snapshots.addKeySlot(1, fakeSlot(1));
  await assert.rejects(snapshots.removeKeySlot(1, fakeSlotId(1)), LastKeySlotError);
  await assert.rejects(snapshots.removeKeySlot(1, fakeSlotId(2)), NoSuchKeySlotError);
  await assert.rejects(snapshots.removeKeySlot(1, new Uint8Array(3)), NoSuchKeySlotError);
  await snapshots.addKeySlot(1, fakeSlot(2));
  await snapshots.removeKeySlot(1, fakeSlotId(1));
  await assert.rejects(snapshots.removeKeySlot(1, fakeSlotId(2)), LastKeySlotError);
  assert.deepEqual(slotIds(await snapshots.listKeySlots(1)), [toHex(fakeSlotId(2))]);
});

Deno.test("key slots: a first slot beside plain snapshots is refused until they are forgotten", async () => {
  await using t = await openTempStorage({ now: () => T0 });
  const snapshots = t.storage.snapshots;
  const blob = dataBlob(noise(1, 4096));
  const tree = treeBlob([blob.id]);
  const session = snapshots.openSession(1);
  await session.put(blob);
  await session.put(tree);
  await session.commit(snapshotOf(tree));
  await session.close();
  await assert.rejects(snapshots.addKeySlot(1, fakeSlot(1)), (error) => {
    assert.ok(error instanceof PlainSnapshotsError);
    assert.match(error.message, /forget them and prune first, or use another account/);
    return true;
  });
  assert.deepEqual(await snapshots.listKeySlots(1), []);
  await snapshots.addKeySlot(2, fakeSlot(1)); // another user's repository is its own
  await snapshots.forgetSnapshot(1, snapshotOf(tree).id);
  await snapshots.addKeySlot(1, fakeSlot(1));
  // Encrypted now (it takes sealed blobs only): its snapshots do not stop more slots.
  const sealed = sealedTree([], 5);
  const next = snapshots.openSession(1);
  await next.put(sealed);
  await next.commit(snapshotOf(sealed, "again"));
  await next.close();
  await snapshots.addKeySlot(1, fakeSlot(2));
  assert.equal((await snapshots.listKeySlots(1)).length, 2);
});

Deno.test("key slots: an append-only user adds slots and removes none", async () => {
  await using t = await openTempStorage({ now: () => T0, appendOnlyOf: () => true });
  const snapshots = t.storage.snapshots;
  await snapshots.addKeySlot(1, fakeSlot(1));
  await snapshots.addKeySlot(1, fakeSlot(2));
  await assert.rejects(snapshots.removeKeySlot(1, fakeSlotId(1)), DeleteRefusedError);
  assert.equal((await snapshots.listKeySlots(1)).length, 2);
});

Deno.test("key slots: each is charged its bytes + 256; one past the quota is refused, a removal frees it", async () => {
  const quota = keySlotCharge(1000) + keySlotCharge(2000) + 100;
  await using t = await openTempStorage({ now: () => T0, quotaBytes: quota });
  const snapshots = t.storage.snapshots;
  await snapshots.addKeySlot(1, fakeSlot(1, 1000));
  assert.equal(await t.storage.usage(1), 1000 + 256);
  await snapshots.addKeySlot(1, fakeSlot(2, 2000));
  assert.equal(await t.storage.usage(1), keySlotCharge(1000) + keySlotCharge(2000));
  await assert.rejects(snapshots.addKeySlot(1, fakeSlot(3, 200)), QuotaExceededError);
  assert.equal((await snapshots.listKeySlots(1)).length, 2, "nothing stored");
  assert.equal(await t.storage.usage(1), keySlotCharge(1000) + keySlotCharge(2000));
  await snapshots.removeKeySlot(1, fakeSlotId(2));
  assert.equal(await t.storage.usage(1), keySlotCharge(1000));
  await snapshots.addKeySlot(1, fakeSlot(3, 200));
});

Deno.test("key slots: kept across a reopen of the root, verify clean", async () => {
  const root = await Deno.makeTempDir({ prefix: "backup-key-slots-" });
  try {
    {
      await using t = await openTempStorage({ root, now: () => T0 });
      await t.storage.snapshots.addKeySlot(4, fakeSlot(1));
      await t.storage.snapshots.addKeySlot(4, fakeSlot(2, 4096));
      await t.storage.snapshots.removeKeySlot(4, fakeSlotId(1));
      await t.storage.snapshots.addKeySlot(4, fakeSlot(3));
    }
    await using t = await openTempStorage({ root, now: () => T0 });
    assert.deepEqual(await t.storage.snapshots.listKeySlots(4), [
      fakeSlot(2, 4096),
      fakeSlot(3),
    ]);
    assert.equal(await t.storage.usage(4), keySlotCharge(4096) + keySlotCharge(200));
    assert.deepEqual((await verifyRoot({ root, data: "all" })).problems, []);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
