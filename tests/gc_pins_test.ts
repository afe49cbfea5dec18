/**
 * An upload's pin (storage/s3/pins.ts, rules W2 and W3), with a clock moved by hand: R/2 is 1,000
 * "ms" here.
 */
import assert from "node:assert/strict";
import { S3Error } from "../objects/s3/s3_client.ts";
import { decodePin } from "../storage/s3/gc_objects.ts";
import { PinRefreshError, UploadPin } from "../storage/s3/pins.ts";
import { latch, ManualClock, MemoryBucket, settle } from "./_gc_fakes.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const HALF_R = 1000;
const SESSION = "0123456789abcdef";

function setUp() {
  const clock = new ManualClock();
  const bucket = new MemoryBucket(clock);
  const errors: unknown[] = [];
  const pin = new UploadPin({
    client: bucket,
    prefix: "s/",
    userId: 7,
    session: SESSION,
    intervalMs: HALF_R,
    clock,
    onError: (error) => errors.push(error),
  });
  return { clock, bucket, pin, errors };
}

Deno.test("pins: an upload shorter than R/2 writes no pin; its record is signed at once", async () => {
  const { clock, bucket, pin } = setUp();
  await clock.advance(HALF_R - 1);
  assert.equal(await pin.signRecordAt(), clock.now());
  await pin.end();
  assert.deepEqual(bucket.calls, [], "no request at all");
});

Deno.test("pins: past R/2 the upload pins its session and its dedup packs, every R/2, and deletes the pin at the end", async () => {
  const { clock, bucket, pin } = setUp();
  pin.addPacks(["p/7/aaaaaaaaaaaaaaaa.1"]);
  await clock.advance(HALF_R);
  const [first] = bucket.callsOf("PUT");
  assert.equal(first.key, "s/g/pins/0123456789abcdef");
  assert.equal(first.signedAt, first.atMs, "signed when sent");
  assert.deepEqual(decodePin(first.body!), {
    userId: 7,
    session: SESSION,
    packs: ["p/7/aaaaaaaaaaaaaaaa.1"],
  });
  pin.addPacks(["p/7/bbbbbbbbbbbbbbbb.4", "p/7/aaaaaaaaaaaaaaaa.1"]);
  await clock.advance(HALF_R);
  await clock.advance(HALF_R);
  const puts = bucket.callsOf("PUT");
  assert.deepEqual(puts.map(({ atMs }) => atMs - first.atMs), [0, HALF_R, 2 * HALF_R]);
  assert.deepEqual(decodePin(puts[2].body!).packs, [
    "p/7/aaaaaaaaaaaaaaaa.1",
    "p/7/bbbbbbbbbbbbbbbb.4",
  ]);
  await pin.end();
  assert.deepEqual(bucket.callsOf("DELETE").map(({ key }) => key), [pin.key]);
  assert.equal(bucket.objects.size, 0);
  await clock.advance(5 * HALF_R);
  assert.equal(bucket.callsOf("PUT").length, 3, "no pin PUT after the end");
});

Deno.test("pins: the record is never signed more than R/2 after the last answered pin PUT was sent", async () => {
  const { clock, bucket, pin } = setUp();
  // The first pin PUT is held by the store for 0.7 R/2.
  const held = latch();
  bucket.gate = (call) =>
    call.method === "PUT" && bucket.callsOf("PUT").length === 1 ? held.promise : undefined;
  await clock.advance(HALF_R);
  const sentAt = bucket.callsOf("PUT")[0].atMs;
  await clock.advance(HALF_R * 0.7);
  let signedAt: number | undefined;
  const signing = pin.signRecordAt().then((at) => signedAt = at);
  await settle();
  assert.equal(
    signedAt,
    undefined,
    "waits: the upload began more than R/2 ago and no pin is answered",
  );
  held.release();
  await signing;
  assert.ok(signedAt! - sentAt <= HALF_R, `signed ${signedAt! - sentAt} ms after the pin was sent`);
  // A pin PUT answered late counts from when it was sent: past R/2 after that, a new one goes first.
  await clock.advance(HALF_R * 0.2); // the loop's next PUT is due at sentAt + R/2; hold it
  const second = latch();
  bucket.gate = () => second.promise;
  await clock.advance(HALF_R * 0.2);
  assert.equal(bucket.callsOf("PUT").length, 2, "the second pin PUT is in flight");
  const secondSentAt = bucket.callsOf("PUT")[1].atMs;
  await clock.advance(HALF_R * 0.5);
  signedAt = undefined;
  const again = pin.signRecordAt().then((at) => signedAt = at);
  await settle();
  assert.equal(signedAt, undefined, "waits for the pin in flight");
  second.release();
  await again;
  assert.ok(signedAt! - secondSentAt <= HALF_R);
  await pin.end();
});

Deno.test("pins: a pin PUT that fails fails the upload, and the pin is still deleted at the end", async () => {
  const { clock, bucket, pin } = setUp();
  bucket.gate = (call) =>
    call.method === "PUT" ? new S3Error(503, "SlowDown", "PutObject: 503") : undefined;
  await clock.advance(HALF_R);
  assert.throws(() => pin.throwIfFailed(), PinRefreshError);
  await assert.rejects(pin.signRecordAt(), PinRefreshError);
  await clock.advance(3 * HALF_R);
  assert.equal(bucket.callsOf("PUT").length, 1, "no retry after a failure: the upload is over");
  await pin.end();
  assert.equal(bucket.callsOf("DELETE").length, 1, "deleted: a failed PUT may still have landed");
});

Deno.test("pins: a suspend counts (the wall clock moved, the monotonic one did not): the pin is refreshed first", async () => {
  const { clock, bucket, pin } = setUp();
  await clock.advance(HALF_R / 2);
  clock.suspend(HALF_R);
  const signedAt = await pin.signRecordAt();
  const [put] = bucket.callsOf("PUT");
  assert.ok(put, "a pin PUT went first");
  assert.ok(signedAt - put.atMs <= HALF_R);
  await pin.end();
});

Deno.test("pins: under random store delays, no record is signed more than R/2 after its last answered pin", async () => {
  let seed = 42;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let run = 0; run < 20; run++) {
    const { clock, bucket, pin } = setUp();
    const answered: { sentAt: number; answeredAt: number }[] = [];
    bucket.gate = (call) => {
      if (call.method !== "PUT") return undefined;
      const delay = random() * HALF_R * 1.5;
      const done = latch();
      // Released by the clock: the store answers `delay` later.
      clock.sleep(delay).then(() => {
        answered.push({ sentAt: call.atMs, answeredAt: clock.now() });
        done.release();
      });
      return done.promise;
    };
    await clock.advance(random() * 4 * HALF_R);
    let signedAt: number | undefined;
    const signing = pin.signRecordAt().then((at) => signedAt = at, () => signedAt = -1);
    for (let i = 0; i < 20 && signedAt === undefined; i++) await clock.advance(HALF_R / 4);
    await signing;
    if (signedAt !== -1) {
      const begin = clock.wallMs - clock.monotonicMs;
      const before = answered.filter(({ answeredAt }) => answeredAt <= signedAt!);
      const base = Math.max(begin, ...before.map(({ sentAt }) => sentAt));
      assert.ok(signedAt! - base <= HALF_R, `run ${run}: signed ${signedAt! - base} ms after`);
    }
    const ending = pin.end(); // lets a pin PUT still held by the store be answered first
    await clock.advance(2 * HALF_R);
    await ending;
  }
});
