/**
 * The prune lock's timing rules (storage/s3/gc_lock.ts) with a clock moved by hand; the protocol
 * against a real store is tests/s3/gc_lock_test.ts. Durations: settle 1 s, refresh 60 s,
 * refreshable 120 s, stale 180 s (the defaults).
 */
import assert from "node:assert/strict";
import { GcLockLostError, tryLock } from "../storage/s3/gc_lock.ts";
import { latch, ManualClock, MemoryBucket, settle } from "./_gc_fakes.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const S = 1000;

function setUp() {
  const clock = new ManualClock();
  const bucket = new MemoryBucket(clock);
  const take = (owner: string) => tryLock({ client: bucket, prefix: "s/", owner, clock });
  return { clock, bucket, take };
}

Deno.test("gc lock: taken after the settle wait; refreshed every minute while held; released", async () => {
  const { clock, bucket, take } = setUp();
  const taking = take("a");
  await clock.advance(S);
  const lock = await taking;
  assert.ok(lock);
  assert.equal(lock.storeTimeMs, Math.floor(clock.now() / S) * S - S, "the listing's Date - 1 s");
  await clock.advance(150 * S);
  lock.ensureHeld();
  assert.equal(bucket.callsOf("PUT", lock.key).length, 3, "the first PUT, then at 60 s and 120 s");
  await lock.release();
  assert.equal(bucket.objects.size, 0);
});

Deno.test("gc lock: a fresh lock of another makes a contender back off; a stale one does not", async () => {
  const { clock, bucket, take } = setUp();
  bucket.objects.set("s/g/lock/other", { body: new Uint8Array(), lastModifiedMs: clock.now() });
  const first = take("a");
  await clock.advance(S);
  assert.equal(await first, undefined);
  assert.deepEqual([...bucket.objects.keys()], ["s/g/lock/other"], "ours deleted");
  await clock.advance(177 * S); // the other lock will be 179 s old at the LIST: still fresh
  const second = take("a");
  await clock.advance(S);
  assert.equal(await second, undefined);
  await clock.advance(S);
  const third = take("a");
  await clock.advance(S);
  const lock = await third;
  assert.ok(lock, "taken once the other is 181 s old by the store's clock");
  assert.deepEqual([...bucket.objects.keys()], [lock.key], "the stale lock was deleted");
  await lock.release();
});

Deno.test("gc lock: of two contenders whose PUTs overlap, at most one takes it", async () => {
  const { clock, take } = setUp();
  const both = Promise.all([take("a"), take("b")]);
  await clock.advance(S);
  const locks = (await both).filter((lock) => lock !== undefined);
  assert.ok(locks.length <= 1, `${locks.length} holders`);
  for (const lock of locks) await lock.release();
});

Deno.test("gc lock: a listing that does not show our own lock lags: back off", async () => {
  const { clock, bucket, take } = setUp();
  const list = bucket.list.bind(bucket);
  bucket.list = async function* (prefix: string) {
    for await (const page of list(prefix)) yield Object.assign([], { dateMs: page.dateMs });
  };
  const taking = take("a");
  await clock.advance(S);
  assert.equal(await taking, undefined);
});

Deno.test("gc lock: a holder paused past refreshableMs has lost it for good, and never refreshes it again", async () => {
  const { clock, bucket, take } = setUp();
  const taking = take("a");
  await clock.advance(S);
  const lock = (await taking)!;
  clock.suspend(121 * S); // the machine sleeps: timers do not fire, the wall clock moves
  assert.throws(() => lock.ensureHeld(), GcLockLostError);
  const puts = bucket.callsOf("PUT", lock.key).length;
  await clock.advance(600 * S);
  assert.equal(bucket.callsOf("PUT", lock.key).length, puts, "no refresh revives it");
  assert.equal(lock.lost, true);
  await lock.release();
});

Deno.test("gc lock: a refresh answered more than staleMs - refreshableMs after it was sent does not count", async () => {
  const { clock, bucket } = setUp();
  // Refreshes every 10 s: a refresh can then be answered 60-120 s late while the lock still holds.
  const taking = tryLock({ client: bucket, prefix: "s/", owner: "a", clock, refreshMs: 10 * S });
  await clock.advance(S);
  const lock = (await taking)!;
  const held = latch();
  bucket.gate = (call) =>
    call.method !== "PUT"
      ? undefined
      : bucket.callsOf("PUT").length === 2
      ? held.promise
      : new Error("the store is gone");
  await clock.advance(10 * S); // the refresh is sent at 11 s, and held by the store
  await clock.advance(65 * S);
  held.release(); // answered 65 s after it was sent: it may have landed after a takeover
  await settle();
  await clock.advance(44 * S); // 120 s after the first PUT
  lock.ensureHeld();
  await clock.advance(1 * S);
  // Counted from the first PUT (at 0 s), not from the late refresh (at 11 s).
  assert.throws(() => lock.ensureHeld(), GcLockLostError);
  bucket.gate = () => undefined;
  await lock.release();
});
