/**
 * The S3 store's key slots on Swift (`storage/s3/key_slots.ts`, docs/keys_plan.md §4): one
 * object `k/USER/SLOTID` per slot, the rules of the embedded store's suite
 * (`tests/key_slots_store_test.ts`) checked against a LIST, seen by every server on the bucket,
 * counted in the usage.
 */
import assert from "node:assert/strict";
import { toHex } from "../../common/hex.ts";
import { DeleteRefusedError, QuotaExceededError } from "../../storage/errors.ts";
import {
  keySlotCharge,
  KeySlotConflictError,
  KeySlotLimitError,
  LastKeySlotError,
  MAX_KEY_SLOT_BYTES,
  MAX_KEY_SLOTS,
  NoSuchKeySlotError,
  PlainSnapshotsError,
} from "../../storage/snapshots.ts";
import { dataBlob, noise, snapshotOf, treeBlob } from "../_snapshots.ts";
import { fakeSlot, fakeSlotId, slotIds } from "../_key_slots.ts";
import { keysUnder, openS3 } from "./_s3_storage.ts";

// The client's keep-alive sockets outlive a test by design: only ops are checked.
Deno.test.sanitizer({ ops: true, resources: false });

const USER = 5;
const OPTIONS = { chunkFiles: true };

Deno.test("s3 key slots: one object each, listed by id on every server, removed; the same again kept once, other bytes refused", async () => {
  await using a = await openS3(OPTIONS);
  await using b = await openS3(OPTIONS, a.prefix);
  const slots = a.storage.snapshots!;
  assert.deepEqual(await slots.listKeySlots(USER), []);
  await slots.addKeySlot(USER, fakeSlot(0x20));
  await slots.addKeySlot(USER, fakeSlot(0x10, 300));
  await b.storage.snapshots!.addKeySlot(USER, fakeSlot(0x20)); // a retry, on another server
  assert.deepEqual(
    (await keysUnder(a.client, `${a.prefix}k/${USER}/`)).map((
      { key, size },
    ) => [key.slice(a.prefix.length), size]),
    [[`k/${USER}/${toHex(fakeSlotId(0x10))}`, 300], [`k/${USER}/${toHex(fakeSlotId(0x20))}`, 200]],
  );
  assert.deepEqual(await b.storage.snapshots!.listKeySlots(USER), [
    fakeSlot(0x10, 300),
    fakeSlot(0x20),
  ]);
  await assert.rejects(
    b.storage.snapshots!.addKeySlot(USER, fakeSlot(0x20, 200, 0x77)),
    KeySlotConflictError,
  );
  assert.deepEqual((await slots.listKeySlots(USER))[1], fakeSlot(0x20), "the stored one stays");
  assert.deepEqual(await slots.listKeySlots(USER + 1), []);
  await b.storage.snapshots!.removeKeySlot(USER, fakeSlotId(0x10));
  assert.deepEqual(slotIds(await slots.listKeySlots(USER)), [toHex(fakeSlotId(0x20))]);
});

Deno.test("s3 key slots: limits, the last slot, unknown ids", async () => {
  await using s3 = await openS3(OPTIONS);
  const slots = s3.storage.snapshots!;
  await assert.rejects(
    slots.addKeySlot(USER, fakeSlot(1, MAX_KEY_SLOT_BYTES + 1)),
    KeySlotLimitError,
  );
  await assert.rejects(slots.addKeySlot(USER, new Uint8Array(16)), KeySlotLimitError);
  await assert.rejects(slots.removeKeySlot(USER, fakeSlotId(1)), NoSuchKeySlotError);
  await slots.addKeySlot(USER, fakeSlot(1, MAX_KEY_SLOT_BYTES));
  await assert.rejects(slots.removeKeySlot(USER, fakeSlotId(1)), LastKeySlotError);
  for (let id = 2; id <= MAX_KEY_SLOTS; id++) await slots.addKeySlot(USER, fakeSlot(id));
  await assert.rejects(slots.addKeySlot(USER, fakeSlot(0x99)), KeySlotLimitError);
  await slots.addKeySlot(USER, fakeSlot(2));
  await assert.rejects(slots.removeKeySlot(USER, fakeSlotId(0x99)), NoSuchKeySlotError);
  await assert.rejects(slots.removeKeySlot(USER, new Uint8Array(3)), NoSuchKeySlotError);
  for (let id = 2; id <= MAX_KEY_SLOTS; id++) await slots.removeKeySlot(USER, fakeSlotId(id));
  await assert.rejects(slots.removeKeySlot(USER, fakeSlotId(1)), LastKeySlotError);
  assert.deepEqual(await slots.listKeySlots(USER), [fakeSlot(1, MAX_KEY_SLOT_BYTES)]);
});

Deno.test("s3 key slots: a first slot beside plain snapshots is refused until they are forgotten; append-only adds, never removes", async () => {
  let appendOnly = false;
  await using s3 = await openS3({ ...OPTIONS, appendOnlyOf: () => appendOnly });
  const snapshots = s3.storage.snapshots!;
  const blob = dataBlob(noise(1, 4096));
  const tree = treeBlob([blob.id]);
  const session = snapshots.openSession(USER);
  await session.put(blob);
  await session.put(tree);
  assert.deepEqual(await session.commit(snapshotOf(tree)), { missing: [] });
  await session.close();
  await assert.rejects(snapshots.addKeySlot(USER, fakeSlot(1)), (error) => {
    assert.ok(error instanceof PlainSnapshotsError);
    assert.match(error.message, /forget them and prune first, or use another account/);
    return true;
  });
  assert.deepEqual(await keysUnder(s3.client, `${s3.prefix}k/`), [], "nothing stored");
  await snapshots.forgetSnapshot(USER, snapshotOf(tree).id);
  appendOnly = true;
  await snapshots.addKeySlot(USER, fakeSlot(1));
  await snapshots.addKeySlot(USER, fakeSlot(2));
  await assert.rejects(snapshots.removeKeySlot(USER, fakeSlotId(1)), DeleteRefusedError);
  assert.equal((await snapshots.listKeySlots(USER)).length, 2);
});

Deno.test("s3 key slots: counted in the usage (bytes + 256 each); one past the quota is refused", async () => {
  const quota = keySlotCharge(1000) + keySlotCharge(2000) + 100;
  await using s3 = await openS3({ ...OPTIONS, quotaOf: () => quota, usageTtlMs: 0 });
  const slots = s3.storage.snapshots!;
  await slots.addKeySlot(USER, fakeSlot(1, 1000));
  assert.equal(await s3.storage.usage(USER), 1000 + 256);
  await slots.addKeySlot(USER, fakeSlot(2, 2000));
  await assert.rejects(slots.addKeySlot(USER, fakeSlot(3, 200)), QuotaExceededError);
  assert.equal((await slots.listKeySlots(USER)).length, 2, "nothing stored");
  assert.equal(await s3.storage.usage(USER), keySlotCharge(1000) + keySlotCharge(2000));
  await slots.removeKeySlot(USER, fakeSlotId(2));
  assert.equal(await s3.storage.usage(USER), keySlotCharge(1000));
  await slots.addKeySlot(USER, fakeSlot(3, 200));
});

Deno.test("s3 key slots: two removals at once on one server never leave the user without a slot", async () => {
  await using s3 = await openS3(OPTIONS);
  const slots = s3.storage.snapshots!;
  await slots.addKeySlot(USER, fakeSlot(1));
  await slots.addKeySlot(USER, fakeSlot(2));
  const outcomes = await Promise.allSettled([
    slots.removeKeySlot(USER, fakeSlotId(1)),
    slots.removeKeySlot(USER, fakeSlotId(2)),
  ]);
  assert.deepEqual(outcomes.map((o) => o.status).toSorted(), ["fulfilled", "rejected"]);
  assert.ok(
    outcomes.some((o) => o.status === "rejected" && o.reason instanceof LastKeySlotError),
  );
  assert.equal((await slots.listKeySlots(USER)).length, 1);
});
